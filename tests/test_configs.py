"""Every recipe in configs/ parses, builds its network and takes a few real training steps."""

import inspect
from pathlib import Path

import pytest
import torch
import yaml
from conftest import REPO

from mnist_pl.augment import RandomAffine
from mnist_pl.cli import MNISTCLI

CONFIGS = sorted((REPO / "configs").glob("*.yaml"))


@pytest.mark.parametrize("config", CONFIGS, ids=[c.stem for c in CONFIGS])
def test_config_trains_a_few_steps(config: Path, tmp_path: Path) -> None:
    cli = MNISTCLI(
        args=[
            "fit",
            f"--config={config}",
            f"--data.data_dir={REPO / 'data'}",
            f"--trainer.logger.init_args.save_dir={tmp_path}",
            "--trainer.max_epochs=1",
            "--trainer.limit_train_batches=3",
            "--trainer.limit_val_batches=2",
            "--data.eval_batch_size=100",  # 200 images: a check that validation runs, not a measure
            "--trainer.num_sanity_val_steps=0",
            "--trainer.enable_progress_bar=false",
            "--trainer.enable_model_summary=false",
            "--test_after_fit=false",
        ]
    )
    assert cli.trainer.global_step == 3
    assert torch.isfinite(cli.trainer.callback_metrics["train/loss"])
    assert (tmp_path / config.stem / "version_0" / "checkpoints" / "last.ckpt").exists()
    # What a config leaves out must be the optimizer's own default: jsonargparse carries shared
    # init_args over from the default optimizer (Adam's eps 1e-8 into Adadelta, whose default is
    # 1e-6), and example.yaml trained 0.5% below its tutorial.
    recipe = yaml.safe_load(config.read_text())
    optimizer = cli.trainer.optimizers[0]
    given = recipe["model"]["optimizer"].get("init_args", {})
    own = inspect.signature(type(optimizer).__init__).parameters
    for name, value in optimizer.defaults.items():
        if name not in given and name in own and own[name].default is not inspect.Parameter.empty:
            assert value == own[name].default, f"{config.name}: optimizer {name} is {value}, not {own[name].default}"
    # And each of its parameters trains with what the recipe gives (best.yaml's weight_decay); the schedules
    # move lr, betas and momentum.
    for group in optimizer.param_groups:
        for name, value in given.items():
            if name not in ("lr", "betas", "momentum"):
                assert group[name] == pytest.approx(value), f"{config.name}: {name} {group[name]}, not {value}"
    # An epoch-wise cosine must reach its end when the run does (bncnn.yaml).
    scheduler = recipe["model"].get("scheduler") or {}
    if scheduler.get("class_path", "").endswith("CosineAnnealingLR"):
        assert scheduler["init_args"]["T_max"] == recipe["trainer"]["max_epochs"], config.name


def test_random_affine_moves_each_image_its_own_way() -> None:
    torch.manual_seed(0)
    images = torch.rand(8, 1, 28, 28)
    same = RandomAffine(degrees=0, translate=0, scale=(1, 1), shear=0)(images)
    assert torch.allclose(same, images, atol=1e-5)
    moved = RandomAffine()(images[:1].repeat(8, 1, 1, 1))
    assert moved.shape == images.shape and moved.min() >= 0 and moved.max() <= 1
    assert len({m.sum().item() for m in moved}) == 8  # one draw per image, not one per batch
    torch.manual_seed(1)
    first = RandomAffine()(images)
    torch.manual_seed(1)
    assert torch.equal(first, RandomAffine()(images))


def _moments(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Each image's centre of mass (x, y, in pixels) and the angle of its main axis (degrees)."""
    mass = images.sum((1, 2, 3))
    ys, xs = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    x, y = (images[:, 0] * xs).sum((1, 2)) / mass, (images[:, 0] * ys).sum((1, 2)) / mass
    dx, dy = xs - x[:, None, None], ys - y[:, None, None]
    cxx, cyy, cxy = ((images[:, 0] * d).sum((1, 2)) / mass for d in (dx * dx, dy * dy, dx * dy))
    return x, y, torch.rad2deg(0.5 * torch.atan2(2 * cxy, cxx - cyy))


def test_random_affine_moves_and_turns_images_as_far_as_asked() -> None:
    """translate 0.1 is at most 2.8 pixels of a 28-pixel image, each way; degrees 30 a turn of at most 30°; scale
    and shear as far as asked too (a zoom of 1 and no shear whatever asked passed the other checks)."""
    torch.manual_seed(0)
    square = torch.zeros(2000, 1, 28, 28)
    square[:, :, 12:16, 12:16] = 1
    x0, y0, _ = _moments(square[:1])
    x, y, _ = _moments(RandomAffine(degrees=0, translate=0.1, scale=(1, 1))(square))
    for shift in (x - x0, y - y0):
        assert 2.6 < shift.abs().max() <= 2.8 + 1e-3 and shift.min() < 0 < shift.max()
    bar = torch.zeros(2000, 1, 28, 28)
    bar[:, :, 13:15, 4:24] = 1
    _, _, angle = _moments(RandomAffine(degrees=30, translate=0, scale=(1, 1))(bar))
    assert 28 < angle.abs().max() <= 30.5 and angle.min() < 0 < angle.max()
    # scale (0.5, 2): an 8 x 8 square of mass 64 zoomed to 4 x 4 up to 16 x 16.
    big = torch.zeros(2000, 1, 28, 28)
    big[:, :, 10:18, 10:18] = 1
    mass = RandomAffine(degrees=0, translate=0, scale=(0.5, 2))(big).sum((1, 2, 3))
    assert 15.9 < mass.min() < 17 and 240 < mass.max() < 256.1
    # shear 30: an upright bar leans up to 30° either way (its main axis at 90° before).
    upright = bar.transpose(2, 3)
    _, _, angle = _moments(RandomAffine(degrees=0, translate=0, scale=(1, 1), shear=30)(upright))
    lean = angle % 180 - 90
    assert 28 < lean.abs().max() <= 30.5 and lean.min() < 0 < lean.max()


def test_random_affine_zooms_out_below_1_in_either_order_onto_background() -> None:
    """A scale below 1 shrinks the image (the range (0.5, 2) above reads the same turned inside out); given high
    end first, it is the same range (uniform_ raised at the first batch); the area moved in is 0, not the edge's
    pixels smeared in (FashionMNIST's items fill the frame)."""
    torch.manual_seed(0)
    big = torch.zeros(100, 1, 28, 28)
    big[:, :, 10:18, 10:18] = 1
    for scale in ((0.5, 0.6), (0.6, 0.5)):
        mass = RandomAffine(degrees=0, translate=0, scale=scale)(big).sum((1, 2, 3))
        assert 15.9 < mass.min() < 17 and 20 < mass.max() < 23.1, scale  # 4 x 4 to 4.8 x 4.8
    page = RandomAffine(degrees=0, translate=0, scale=(0.5, 0.5))(torch.ones(2, 1, 28, 28))
    assert page[:, :, 7:21, 7:21].min() == 1 and page[:, :, :6].max() == page[:, :, :, 22:].max() == 0
