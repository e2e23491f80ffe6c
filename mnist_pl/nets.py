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


def _conv_bn_pool(in_channels: int, out_channels: int) -> list[nn.Module]:
    # No conv bias: BatchNorm's shift makes it redundant.
    return [
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(),
        nn.MaxPool2d(2),
    ]


class FastCNN(nn.Module):
    """A small BatchNorm CNN sized for one-epoch training on a CPU (about LeNet's compute).

    Three [conv 3x3 -> BN -> ReLU -> max-pool] stages of ``width``, 2x and 4x channels
    (28 -> 14 -> 7 -> 3), then fc -> ``hidden`` -> 10. BatchNorm lets Adam with a one-cycle
    schedule take large steps, which is what reaches 99% in one epoch.
    """

    def __init__(self, width: int = 16, hidden: int = 128, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            *_conv_bn_pool(1, width), *_conv_bn_pool(width, 2 * width), *_conv_bn_pool(2 * width, 4 * width)
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(4 * width * 3 * 3, hidden),
            nn.ReLU(),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))
