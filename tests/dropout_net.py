"""A small network with dropout, for the resume tests: its masks come from the global torch RNG."""

from torch import Tensor, nn


class DropoutNet(nn.Module):
    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(1, 8, kernel_size=5),
            nn.ReLU(),
            nn.MaxPool2d(4),
            nn.Flatten(),
            nn.Dropout(p),
            nn.Linear(8 * 6 * 6, 10),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)
