"""The benchmark's measurements: a bare step really runs before each training step; a fit's clock
leaves out the checkpoint written at its end and times its validations apart."""

import subprocess
import sys
import time
from pathlib import Path
from unittest import mock

import lightning as L
import pytest
import torch
from conftest import REPO, child_env
from lightning.pytorch.plugins import TorchCheckpointIO

from mnist_pl import bench
from mnist_pl.bench import InterleavedBareSteps, TrainClock, _sgd_step, fast_rows, lenet_rows, lightning_epoch
from mnist_pl.data import MNISTDataModule
from mnist_pl.model import MNISTClassifier
from mnist_pl.nets import MinimalCNN


@pytest.mark.parametrize("tool", ["bench", "table"])
def test_a_ctrl_c_while_the_tool_imports_ends_in_one_line(tool: str) -> None:
    # Torch and Lightning take seconds to import: a Ctrl-C then ended in a traceback of 30 lines.
    command = [sys.executable, str(REPO / "tests" / "ctrl_c_in_imports.py"), f"mnist_pl.{tool}"]
    result = subprocess.run(command, env=child_env(), capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == f"error: {tool}: stopped by Ctrl-C as it started, nothing written: run it again\n"


def test_interleaved_bare_steps_train_one_step_per_training_step(monkeypatch: pytest.MonkeyPatch) -> None:
    dm = MNISTDataModule(data_dir=str(REPO / "data"))
    dm.prepare_data()
    dm.setup("fit")
    steps = InterleavedBareSteps(dm, torch.device("cpu"))
    before = [p.detach().clone() for p in steps.net.parameters()]
    # Each bare step made 0.2 s longer: the fit's own 12 steps (0.1-0.2 s) are then well under the bare
    # steps' 2.4 s, and the ratio under 1, if the bare steps are taken out of the epoch; over 1 if not.
    # (Not the real ratio: over a dozen steps a shared machine's stall of 0.1 s moved it from 1.1 to 2. Under
    # 0.5 failed once, under a load average of 47: the fit's steps slow down with the load, the sleeps do not.)
    monkeypatch.setattr(bench, "_sgd_step", lambda *args: (_sgd_step(*args), time.sleep(0.2)))
    lightning_epoch(dm, torch.device("cpu"), steps, limit_train_batches=12)
    # 12 bare batches drawn: the 13th is the next one out of 860 (55,000 images / 64).
    assert len(list(steps.batches)) == 860 - 12
    assert all(not torch.equal(a, b) for a, b in zip(before, steps.net.parameters(), strict=True))
    assert steps.bare >= 2.4 and 0 < steps.ratio < 1


class SlowCheckpointIO(TorchCheckpointIO):
    """A disk that takes 2 s per checkpoint (the GPU machine's took up to 4.6 s)."""

    started: float | None = None  # when the first checkpoint's write began

    def save_checkpoint(self, *args, **kwargs) -> None:
        self.started = self.started or time.perf_counter()
        time.sleep(2)
        super().save_checkpoint(*args, **kwargs)


def test_train_clock_leaves_out_the_checkpoint_written_at_the_end(tmp_path: Path) -> None:
    """The bench's training times rest on Lightning's order of hooks: the checkpoint callbacks' saves last."""
    dm = MNISTDataModule(data_dir=str(REPO / "data"))
    clock = TrainClock()
    trainer = L.Trainer(
        max_epochs=1,
        limit_train_batches=3,
        limit_val_batches=1,
        num_sanity_val_steps=0,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
        plugins=[io := SlowCheckpointIO()],
        callbacks=[clock],
    )
    trainer.fit(MNISTClassifier(MinimalCNN()), datamodule=dm)
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == ["epoch=0-step=3.ckpt"]
    assert clock.start + clock.seconds <= io.started  # the clock stopped before the write began


class SlowValidationEnd(L.Callback):
    """0.5 s after every validation, 2 s after the sanity check's: as the app's figures take time there."""

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        time.sleep(2.0 if trainer.sanity_checking else 0.5)


def test_train_clock_times_the_validations_inside_training_apart(tmp_path: Path) -> None:
    clock = TrainClock()
    trainer = L.Trainer(
        max_epochs=2,
        limit_train_batches=3,
        limit_val_batches=1,
        num_sanity_val_steps=1,  # before training: in neither figure
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
        callbacks=[clock, SlowValidationEnd()],
    )
    trainer.fit(MNISTClassifier(MinimalCNN()), datamodule=MNISTDataModule(data_dir=str(REPO / "data")))
    # Two epochs' validations (0.5 s and a batch each), not the sanity check's (2 s): a second of margin.
    assert 1.0 <= clock.validation < 2.0
    assert clock.validation < clock.seconds


def test_the_lenet_rows_have_the_graphed_app_only_on_a_gpu() -> None:
    """The table is printed after minutes of training: a row that cannot be built ends the bench there."""
    cpu = dict(lenet_rows(10.8, [], 10.2, 9.8, 19.8, [1.15, 1.148, 1.156], [1.12, 1.11, 1.12]))
    assert cpu["LeNet epoch, batch 64, fp32: this app"] == "10.80 s"
    assert cpu["  app / bare, interleaved step by step"] == "1.15x (median of 1.150, 1.148, 1.156)"
    assert not any("cuda_graphs" in name for name in cpu)
    gpu = dict(lenet_rows(2.74, [1.7, 1.62], 2.5, 2.24, 8.51, [], []))
    assert gpu["LeNet epoch, batch 64, fp32: this app, --model.cuda_graphs true (GPU target <= 1.5 s)"] == "1.62 s"
    assert gpu["  app with --model.cuda_graphs true / bare"] == "0.72x"
    assert gpu["  app / bare, interleaved step by step"].startswith("not run on a GPU")


def test_the_fast_rows_count_images_per_second_of_training_alone() -> None:
    """The validation inside the epoch trains no image: 55,000 over the whole epoch understated it (an audit)."""
    clock = TrainClock()
    clock.seconds, clock.validation = 6.0, 0.5
    cpu = dict(fast_rows(0, clock, 0.9922, "bf16-mixed", graphs=False, gpu=False, images=55000))
    assert cpu == {
        "fast.yaml seed 0: training, 1 epoch, bf16-mixed (target <= 12 s)": "6.00 s (0.50 s of it validation), "
        "10,000 img/s of training",
        "fast.yaml seed 0: test accuracy": "99.22%",
    }
    gpu = dict(fast_rows(1, clock, 0.99, "bf16-mixed", graphs=True, gpu=True, images=50000))
    assert gpu["fast.yaml seed 1: training, 1 epoch, bf16-mixed, CUDA graphs (target <= 1.5 s)"].endswith(
        "9,091 img/s of training"
    )


def test_a_bench_whose_runs_cannot_be_written_is_refused_before_it_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Its first fit's error, after the data was read, named --trainer.logger.init_args.save_dir, which the
    bench does not take (an audit)."""
    (tmp_path / "logs").write_text("a file where logs/ would be")
    monkeypatch.chdir(tmp_path)
    with mock.patch.object(sys, "argv", ["bench"]), pytest.raises(SystemExit) as exit_:
        bench.main()
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "python -m mnist_pl.bench: error: logs/bench: its fits' runs cannot be written there (Not a directory): "
        "run it in a folder where they can"
    )
