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
