"""Networks: plain ``nn.Module``s that map a batch of 1x28x28 images to 10 logits.

They know nothing about training, so any of them drops into ``MNISTClassifier`` by config
(``model.net.class_path``) and exports as it is.
"""

from torch import Tensor, nn


class LeNet(nn.Module):
    """The LeNet-style CNN of the classic PyTorch MNIST example (431k parameters).

    conv 1->20 5x5, max-pool 2, conv 20->50 5x5, max-pool 2, fc 800->500, fc 500->10, ReLU.
    """

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 20, kernel_size=5),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(20, 50, kernel_size=5),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(4 * 4 * 50, 500),
            nn.ReLU(),
            nn.Linear(500, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))
