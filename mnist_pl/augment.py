"""Augmentation for a whole batch on the device it trains on: a different random affine per image.

torchvision's ``RandomAffine`` (v1 and v2) draws one transform per call, so on a batch tensor every
image gets the same one, and per-image transforms need a Python loop over samples (``PerImage``:
6 ms a batch of 64 on a 2-core Xeon). Here ``affine_grid`` + ``grid_sample`` move every image of the
batch by its own matrix in one call (0.35 ms).
"""

import math

import torch
import torch.distributed as dist
import torch.nn.functional as F
from jsonargparse.typing import ClosedUnitInterval, restricted_number_type
from torch import Tensor, nn

# Finite: inf passed NonNegativeFloat and PositiveFloat, and failed in the first batch's draw, in a traceback.
Angle = restricted_number_type("Angle", float, [(">=", 0), ("<", math.inf)])
Zoom = restricted_number_type("Zoom", float, [(">", 0), ("<", math.inf)])
Shear = restricted_number_type("Shear", float, [(">=", 0), ("<", 90)])  # tan(90 degrees): out of the frame


def per_image(augment: nn.Module | None) -> nn.Module | None:
    """``augment``, applied image by image where it is or holds a torchvision transform (or one built on its
    classes), which draws one random transform per call: on a batch every image got the same one (one
    rotation for all 64)."""
    parts = augment.modules() if isinstance(augment, nn.Module) else [] if augment is None else [augment]
    classes = (cls for part in parts for cls in type(part).__mro__)  # v1's Compose is no Module
    return PerImage(augment) if any(cls.__module__.startswith("torchvision.transforms") for cls in classes) else augment


class PerImage(nn.Module):
    """A transform called once per image of a batch, each drawing its own randomness, as in a Dataset.

    Under DDP, image j of each rank's batch draws alike (every rank's RNG is seeded alike); RandomAffine's do not.
    """

    def __init__(self, transform: nn.Module) -> None:
        super().__init__()
        self.transform = transform

    def forward(self, images: Tensor) -> Tensor:
        return torch.stack([self.transform(image) for image in images])


class RandomAffine(nn.Module):
    """Random rotation, scale, shear and shift, a different draw for each image.

    Drawn from the global torch RNG; under DDP each rank's images get their own draws.

    Args:
        degrees: rotation in degrees, drawn from [-degrees, degrees].
        translate: largest shift per axis, a fraction of the image size (0 to 1; beyond, as torchvision
            refuses, an image was moved out of its frame, blank).
        scale: zoom factor drawn between scale[0] and scale[1] (given as [0.9,1.1]).
        shear: shear angle in degrees, drawn from [-shear, shear].
    """

    def __init__(
        self,
        degrees: Angle = 10.0,
        translate: ClosedUnitInterval = 0.1,
        scale: tuple[Zoom, Zoom] = (0.9, 1.1),
        shear: Shear = 0.0,
    ) -> None:
        super().__init__()
        self.degrees, self.translate, self.shear = degrees, translate, shear
        self.scale = min(scale), max(scale)  # either order: uniform_ needs the low end first

    def forward(self, images: Tensor) -> Tensor:
        """Images in [0, 1], (N, C, H, W), or one (C, H, W); the area moved in from outside is 0 (background)."""
        if images.dim() == 3:  # one image, as PerImage gives it beside a torchvision transform (affine_grid's error)
            return self(images[None])[0]
        n = images.shape[0]
        # Under DDP every rank holds the same RNG state (one seed, the same draws: what a resume restores), so
        # image j of each rank's batch got the same transform. Each draws for all ranks' batches (of one size:
        # the shards are even) and takes its own share, as one process augmenting the whole global batch would.
        ranks, rank = (
            (dist.get_world_size(), dist.get_rank()) if dist.is_available() and dist.is_initialized() else (1, 0)
        )

        def uniform(low: float, high: float) -> Tensor:
            return torch.empty(n * ranks, device=images.device).uniform_(low, high)[rank * n : (rank + 1) * n]

        angle = uniform(-self.degrees, self.degrees) * (math.pi / 180)
        shear = uniform(-self.shear, self.shear) * (math.pi / 180)
        zoom = uniform(*self.scale)
        # affine_grid maps output coordinates to input ones, both in [-1, 1]: the inverse transform.
        cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
        theta = torch.stack(
            [
                torch.stack([cos, -sin + torch.tan(shear) * cos, uniform(-self.translate, self.translate) * 2], 1),
                torch.stack([sin, cos + torch.tan(shear) * sin, uniform(-self.translate, self.translate) * 2], 1),
            ],
            1,
        )
        grid = F.affine_grid(theta, list(images.shape), align_corners=False)
        return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
