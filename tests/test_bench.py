"""The benchmark's interleaved measurement: a bare step really runs before each training step."""

import torch
from conftest import REPO

from mnist_pl.bench import InterleavedBareSteps, lightning_epoch
from mnist_pl.data import MNISTDataModule


def test_interleaved_bare_steps_train_one_step_per_training_step() -> None:
    dm = MNISTDataModule(data_dir=str(REPO / "data"))
    dm.prepare_data()
    dm.setup("fit")
    steps = InterleavedBareSteps(dm, torch.device("cpu"))
    before = [p.detach().clone() for p in steps.net.parameters()]
    lightning_epoch(dm, steps, limit_train_batches=12)
    # 12 bare batches drawn: the 13th is the next one out of 860 (55,000 images / 64).
    assert len(list(steps.batches)) == 860 - 12
    assert all(not torch.equal(a, b) for a, b in zip(before, steps.net.parameters(), strict=True))
    # The fit's own time over the bare steps': the same work plus Lightning's (1.04-1.12 here); 2 if the
    # bare steps inside the epoch were not taken out of it.
    assert steps.bare > 0 and 0.5 < steps.ratio < 1.8
