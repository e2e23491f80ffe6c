"""Networks: plain ``nn.Module``s that map a batch of 1x28x28 images to 10 logits.

They know nothing about training, so any of them drops into ``MNISTClassifier`` by config
(``model.net.class_path``) and exports as it is. Each tutorial's network is here as that tutorial
builds it; ``configs/README.md`` says where each comes from and what it reaches. Their argument
types (``PositiveInt``: ints, checked) let the CLI refuse a width of 0 in one line.
"""

from jsonargparse.typing import ClosedUnitInterval, PositiveInt
from torch import Tensor, nn


class LeNet(nn.Module):
    """The LeNet-style CNN of the classic PyTorch MNIST example (431k parameters).

    conv 1->20 5x5, max-pool 2, conv 20->50 5x5, max-pool 2, fc 800->500, fc 500->10, ReLU.

    Args:
        num_classes: class scores it returns (10: the app's datasets have 10 classes).
    """

    def __init__(self, num_classes: PositiveInt = 10) -> None:
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


class MinimalCNN(nn.Module):
    """The smallest CNN of the beginner tutorials, ``width`` channels wide (n = 6: 6.4k parameters).

    conv 1->n 5x5, max-pool 2, conv n->n 5x5, max-pool 2, fc 16n->50, fc 50->10, ReLU.

    Args:
        width: channels of both convolutions.
        num_classes: class scores it returns (10: the app's datasets have 10 classes).
    """

    def __init__(self, width: PositiveInt = 6, num_classes: PositiveInt = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, width, kernel_size=5),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(width, width, kernel_size=5),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(4 * 4 * width, 50),
            nn.ReLU(),
            nn.Linear(50, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))


class TwoConvNet(nn.Module):
    """Two convolutions with one pool between them (1.0M parameters, most in the first fc).

    conv 1->10 5x5, max-pool 2, conv 10->20 3x3 (no second pool), fc 2000->500, fc 500->10, ReLU.

    Args:
        num_classes: class scores it returns (10: the app's datasets have 10 classes).
    """

    def __init__(self, num_classes: PositiveInt = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 10, kernel_size=5),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(10, 20, kernel_size=3),
            nn.ReLU(),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(20 * 10 * 10, 500),
            nn.ReLU(),
            nn.Linear(500, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))


class ExampleNet(nn.Module):
    """The network of today's PyTorch MNIST example (``pytorch/examples/mnist``, 1.2M parameters).

    conv 1->32 3x3, conv 32->64 3x3, max-pool 2, dropout 0.25, fc 9216->128, dropout 0.5, fc 128->10.

    Args:
        num_classes: class scores it returns (10: the app's datasets have 10 classes).
    """

    def __init__(self, num_classes: PositiveInt = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, kernel_size=3),
            nn.ReLU(),
            nn.Conv2d(32, 64, kernel_size=3),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Dropout(0.25),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(12 * 12 * 64, 128),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Linear(128, num_classes),
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


class BatchNormCNN(nn.Module):
    """The BatchNorm CNN of the BatchNorm tutorials (6.5M parameters, most in the first fc).

    [conv 3x3 pad 1 -> BN -> ReLU -> max-pool] with 64 then 128 channels (28 -> 14 -> 7),
    fc 6272->1024, dropout 0.5, fc 1024->10.

    Args:
        num_classes: class scores it returns (10: the app's datasets have 10 classes).
    """

    def __init__(self, num_classes: PositiveInt = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(*_conv_bn_pool(1, 64), *_conv_bn_pool(64, 128))
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(128 * 7 * 7, 1024),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Linear(1024, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))


def _conv_bn(in_channels: int, out_channels: int) -> list[nn.Module]:
    return [
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(),
    ]


class DeepBNCNN(nn.Module):
    """The strongest single model here (``configs/best.yaml``): five BatchNorm convs, VGG-style.

    [conv-BN-ReLU x2, pool] with ``width`` then 2x ``width`` channels (28 -> 14 -> 7), a third
    stage of 4x ``width`` (7 -> 3), dropout, fc -> 10. Deep enough to profit from augmentation,
    small enough (width 32: 0.15M parameters) to train 20 epochs on a 2-core CPU.

    Args:
        width: channels of the first stage (the second has 2x, the third 4x).
        dropout: probability of dropping each feature before the last layer.
        num_classes: class scores it returns (10: the app's datasets have 10 classes).
    """

    def __init__(
        self, width: PositiveInt = 32, dropout: ClosedUnitInterval = 0.25, num_classes: PositiveInt = 10
    ) -> None:
        super().__init__()
        self.features = nn.Sequential(
            *_conv_bn(1, width),
            *_conv_bn(width, width),
            nn.MaxPool2d(2),
            *_conv_bn(width, 2 * width),
            *_conv_bn(2 * width, 2 * width),
            nn.MaxPool2d(2),
            *_conv_bn(2 * width, 4 * width),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(4 * width * 3 * 3, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))


def _conv_pool_bn(in_channels: int, out_channels: int) -> list[nn.Module]:
    # Max-pool commutes with ReLU, not with BatchNorm: BN normalises the pooled values.
    return [
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
        nn.MaxPool2d(2),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(),
    ]


class FastCNN(nn.Module):
    """A small BatchNorm CNN sized for one-epoch training on a CPU (about LeNet's compute).

    Three [conv 3x3 -> max-pool -> BN -> ReLU] stages of ``width``, 2x and 4x channels
    (28 -> 14 -> 7 -> 3), then fc -> ``hidden`` -> 10. BatchNorm lets Adam with a one-cycle
    schedule take large steps, which is what reaches 99% in one epoch. Pooling before BatchNorm
    and ReLU (as fast CIFAR-10 nets do) runs them on a quarter of the values: on the AVX2 EPYC a
    step at batch 128 took 42 instead of 61 ms (median, interleaved), and seeds 0-4 reached
    99.18-99.33% against 99.18-99.25% for seeds 0-2 in the tutorials' order (fp32). In bf16 on
    the Zen 5 EPYC at batch 128: 4.6-5.4 s of training, seeds 0-4 at 99.18-99.27%.

    Args:
        width: channels of the first stage (the second has 2x, the third 4x).
        hidden: units of the hidden fully connected layer.
        num_classes: class scores it returns (10: the app's datasets have 10 classes).
    """

    def __init__(self, width: PositiveInt = 16, hidden: PositiveInt = 128, num_classes: PositiveInt = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            *_conv_pool_bn(1, width), *_conv_pool_bn(width, 2 * width), *_conv_pool_bn(2 * width, 4 * width)
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(4 * width * 3 * 3, hidden),
            nn.ReLU(),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))
