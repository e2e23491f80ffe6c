"""Checkpoint writes: a process killed with SIGKILL in the middle of one leaves the previous checkpoint whole;
``last.ckpt`` is the last epoch's; a truncated or foreign file given as a checkpoint is refused in one line."""

import contextlib
import os
import random
import re
import signal
import subprocess
import sys
import time
import warnings
from datetime import timedelta
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
from conftest import REPO, child_env, flipped, run_main, write_onnx_model
from lightning.pytorch.callbacks import ModelCheckpoint

from mnist_pl import checkpoints
from mnist_pl.checkpoints import AtomicCheckpointIO, RNGStates, RunCheckpoint, check_readable
from mnist_pl.data import MNISTDataModule
from mnist_pl.errors import UserError
from mnist_pl.model import MNISTClassifier
from mnist_pl.nets import LeNet

# Writes a good checkpoint, then another over it, held once its bytes are written (at their flush to the
# disk) until killed: the kill lands between the write and the rename, every time. (Killed at a moment
# of the test's choosing in a loop of 200 MB writes, it could land between two writes, in a busy second.)
WRITER = """
import os, sys, time, torch
from pathlib import Path
from mnist_pl.checkpoints import AtomicCheckpointIO
io, path, held = AtomicCheckpointIO(), sys.argv[1], Path(sys.argv[2])
io.save_checkpoint({"good": torch.arange(10)}, path)
def hold(fd):
    held.write_text("held")
    time.sleep(120)
os.fsync = hold
io.save_checkpoint({"next": torch.ones(1_000_000)}, path)
"""


def test_kill_during_a_write_leaves_the_previous_checkpoint(tmp_path: Path) -> None:
    path, held = tmp_path / "last.ckpt", tmp_path / "held"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(held)], env=child_env())
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not held.exists() and writer.poll() is None:
            time.sleep(0.01)
        writer.send_signal(signal.SIGKILL)
    finally:
        writer.wait()
    assert writer.returncode == -signal.SIGKILL and held.exists()
    assert list(tmp_path.glob(".last.ckpt.*.tmp")), "the kill did not land during a write"
    checkpoint = torch.load(path, weights_only=True)  # the good one, whole: the next went to another file
    assert set(checkpoint) == {"good"} and torch.equal(checkpoint["good"], torch.arange(10))


def test_write_replaces_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "last.ckpt"
    AtomicCheckpointIO().save_checkpoint({"x": torch.zeros(3)}, path)
    AtomicCheckpointIO().save_checkpoint({"x": torch.ones(3)}, path)
    assert torch.equal(torch.load(path, weights_only=True)["x"], torch.ones(3))
    assert [p.name for p in path.parent.iterdir()] == ["last.ckpt"]


def test_last_ckpt_is_the_last_epoch_when_it_is_not_the_best(tmp_path: Path) -> None:
    # mode min on val/acc: the best is an early epoch, and Lightning 2.6 on its own would leave
    # last.ckpt there too, so a resume would train the later epochs again.
    config, data = REPO / "configs" / "minimal.yaml", REPO / "data"
    short = ["--trainer.max_epochs=3", "--trainer.limit_train_batches=10", "--trainer.limit_val_batches=2"]
    quiet = ["--trainer.enable_progress_bar=false", "--test_after_fit=false", "--checkpoint.mode=min"]
    logs = f"--trainer.logger.init_args.save_dir={tmp_path}"
    result = run_main("fit", f"--config={config}", f"--data.data_dir={data}", logs, *short, *quiet, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    (checkpoints,) = tmp_path.glob("*/version_0/checkpoints")
    best, last = (torch.load(checkpoints / name, weights_only=True) for name in ("best.ckpt", "last.ckpt"))
    assert (last["epoch"], last["global_step"]) == (2, 30)
    assert best["epoch"] < 2


def test_last_ckpt_follows_a_validation_inside_the_epoch_that_is_not_the_best(tmp_path: Path) -> None:
    # Validated every 10 batches at a learning rate that changes nothing: the validation at step 20 is not
    # better than the first, and Lightning 2.6 on its own left last.ckpt at step 10 (a kill then lost 10 steps).
    config, data = REPO / "configs" / "minimal.yaml", REPO / "data"
    short = ["--trainer.max_steps=20", "--trainer.limit_train_batches=30", "--trainer.val_check_interval=10"]
    quiet = ["--trainer.limit_val_batches=2", "--trainer.enable_progress_bar=false", "--test_after_fit=false"]
    logs = f"--trainer.logger.init_args.save_dir={tmp_path}"
    args = [
        f"--config={config}",
        f"--data.data_dir={data}",
        logs,
        *short,
        *quiet,
        "--model.optimizer.init_args.lr=1e-12",
    ]
    result = run_main("fit", *args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    (checkpoints,) = tmp_path.glob("*/version_0/checkpoints")
    best, last = (torch.load(checkpoints / name, weights_only=True) for name in ("best.ckpt", "last.ckpt"))
    assert (best["global_step"], last["global_step"]) == (10, 20)


def test_a_checkpoint_callback_of_ones_own_leaves_the_runs_checkpoints_in_charge(tmp_path: Path) -> None:
    """A ModelCheckpoint added in --trainer.callbacks came first in Lightning's list, so it was the trainer's:
    the fit tested its best and named only its file; a stop said there was nothing to resume."""
    config, data = REPO / "configs" / "minimal.yaml", REPO / "data"
    short = ["--trainer.max_epochs=2", "--trainer.limit_train_batches=10", "--trainer.limit_val_batches=2"]
    quiet = ["--trainer.enable_progress_bar=false", "--trainer.limit_test_batches=2", "--checkpoint.save_top_k=2"]
    own = ["--trainer.callbacks+=lightning.pytorch.callbacks.ModelCheckpoint", "--trainer.callbacks.monitor=val/loss"]
    logs = f"--trainer.logger.init_args.save_dir={tmp_path}"
    result = run_main("fit", f"--config={config}", f"--data.data_dir={data}", logs, *short, *quiet, *own, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    (run,) = tmp_path.glob("*/version_0")
    saved = re.search(rf"Run saved in {run}: (.*)", result.stdout)[1].split(", ")
    # Both epochs kept by --checkpoint.save_top_k 2, best first, then last.ckpt, then the other callback's file.
    assert [entry.split(" (")[0] for entry in saved] == [
        "best.ckpt" if saved[0].startswith("best.ckpt") else "best-v1.ckpt",
        "best-v1.ckpt" if saved[0].startswith("best.ckpt") else "best.ckpt",
        "last.ckpt",
        "epoch=1-step=20.ckpt",
        "config.yaml",
        "results.json",
    ]
    assert re.fullmatch(r"best(-v1)?\.ckpt \(val/acc 0\.\d{4}\)", saved[0]) and "(val/loss" in saved[3]
    scores = [float(re.search(r"val/acc (\S+)\)", entry)[1]) for entry in saved[:2]]
    assert scores == sorted(scores, reverse=True)  # the best first
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == sorted(
        entry.split(" (")[0] for entry in saved[:4]
    )


def test_checkpoints_kept_outside_the_run_dir_are_named_by_their_path(tmp_path: Path) -> None:
    # "Run saved in logs/minimal/version_0: best.ckpt ..." named files that were not in the run dir.
    config, data, elsewhere = REPO / "configs" / "minimal.yaml", REPO / "data", tmp_path / "elsewhere"
    short = ["--trainer.limit_train_batches=5", "--trainer.limit_val_batches=1", "--test_after_fit=false"]
    args = [f"--config={config}", f"--data.data_dir={data}", f"--trainer.logger.init_args.save_dir={tmp_path}"]
    result = run_main(
        "fit", *args, *short, "--trainer.enable_progress_bar=false", f"--checkpoint.dirpath={elsewhere}", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]
    saved = re.search(r"Run saved in \S+: (.*)", result.stdout)[1].split(", ")
    assert [entry.split(" (")[0] for entry in saved] == [
        str(elsewhere / "best.ckpt"),
        str(elsewhere / "last.ckpt"),
        "config.yaml",
    ]


def test_a_loss_monitored_with_the_apps_mode_max_is_warned_about(tmp_path: Path) -> None:
    config, data = REPO / "configs" / "minimal.yaml", REPO / "data"
    logs = f"--trainer.logger.init_args.save_dir={tmp_path}"
    args = [f"--config={config}", f"--data.data_dir={data}", logs, "--checkpoint.monitor=val/loss"]
    args += ["--trainer.max_epochs=1", "--trainer.limit_train_batches=1", "--trainer.limit_val_batches=1"]
    args += ["--trainer.enable_progress_bar=false", "--test_after_fit=false"]
    # EarlyStopping's own mode is min: on val/acc it stopped a run whose accuracy rose (a mutation audit: unchecked).
    args += ["--trainer.callbacks+=EarlyStopping", "--trainer.callbacks.monitor=val/acc"]
    result = run_main("fit", *args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (
        "warning: --checkpoint monitor val/loss with mode max takes the highest val/loss for the best: "
        "give --checkpoint.mode min"
    ) in result.stderr.splitlines()
    assert (
        "warning: --trainer.callbacks EarlyStopping monitor val/acc with mode min takes the lowest val/acc for the "
        "best: give its mode max"
    ) in result.stderr.splitlines()


def test_any_truncation_or_a_plain_torch_file_is_refused_in_one_line(tmp_path: Path) -> None:
    # Depending on where the cut falls, torch.load raises RuntimeError, EOFError or (mmap) OSError.
    path = tmp_path / "cut.ckpt"
    torch.save({"state_dict": {f"w{i}": torch.randn(1000) for i in range(20)}, "pytorch-lightning_version": "2"}, path)
    data = path.read_bytes()
    for cut in range(0, len(data), len(data) // 40):
        path.write_bytes(data[:cut])
        with pytest.raises(UserError, match=r"not a readable checkpoint \(truncated or not a checkpoint\)"):
            check_readable(path)
    torch.save({"a": torch.zeros(2)}, path)
    with pytest.raises(UserError, match="a torch file, but not a Lightning checkpoint"):
        check_readable(path)


def test_a_metric_in_a_checkpoint_name_is_taken_with_its_name_written_by_hand() -> None:
    """The fix the refusal gives (a slash in the name, Lightning's auto_insert_metric_name off) is taken."""
    named = {"filename": "epoch={epoch}-val_acc={val/acc:.3f}", "auto_insert_metric_name": False, "save_last": True}
    checkpoints.refuse_bad_settings(named, "fit")
    with pytest.raises(UserError, match=r"add --checkpoint\.auto_insert_metric_name false"):
        checkpoints.refuse_bad_settings({**named, "auto_insert_metric_name": True}, "fit")


def test_a_checkpoint_with_flipped_bytes_is_refused_naming_the_damage(trained_run: Path, tmp_path: Path) -> None:
    """torch.load checks no checksum: bytes flipped in a weight tested at 12.6% with exit status 0 (in an audit)."""
    data = (trained_run / "checkpoints" / "best.ckpt").read_bytes()
    path = tmp_path / "flipped.ckpt"
    for name in ("data.pkl", "data/4"):  # its pickle, and a weight tensor's bytes
        path.write_bytes(flipped(data, Path(name).name))
        damaged = rf"^--ckpt_path {re.escape(str(path))}: damaged \(its part {name} reads back wrong\)"
        with pytest.raises(UserError, match=damaged):
            check_readable(path)


def test_an_unreadable_checkpoint_of_a_run_names_the_others_beside_it(trained_run: Path, tmp_path: Path) -> None:
    """A run's best.ckpt cut short or damaged: its last.ckpt, beside it, is the fix the user has at hand
    (the refusal had said only "give a copy of it from before")."""
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    data = (trained_run / "checkpoints" / "best.ckpt").read_bytes()
    (folder / "last.ckpt").write_bytes(data)
    # Not named: files no checkpoint reader takes (they were, as fixes at hand).
    (folder / "empty.ckpt").write_bytes(b"")
    (folder / "cut.ckpt").write_bytes(data[:1000])
    best = folder / "best.ckpt"
    best.write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match=r"\(truncated or not a checkpoint\): give .* \(beside it: last\.ckpt\)$"):
        check_readable(best)
    middle = len(data) // 2
    best.write_bytes(data[:middle] + bytes(b ^ 0xFF for b in data[middle : middle + 400]) + data[middle + 400 :])
    damaged = r"^--ckpt_path .*: damaged \(.*, or another checkpoint \(beside it: last\.ckpt\)$"
    with pytest.raises(UserError, match=damaged):
        check_readable(best)
    lone = tmp_path / "lone.ckpt"
    lone.write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match=r"written by mnist_pl$"):  # nothing beside it to name
        check_readable(lone)


def test_a_checkpoint_of_a_diverged_run_is_refused_in_one_line(trained_run: Path, tmp_path: Path) -> None:
    """Written by a plain Trainer (the app's fits stop before saving such weights): predict gave class 0 at
    nan% for every image, test a nan loss, export a file that failed its check, all but export with status 0."""
    checkpoint = torch.load(trained_run / "checkpoints" / "best.ckpt", weights_only=True)
    # A metric's state may be infinite: val_acc_best before any validation is -inf.
    checkpoint["state_dict"]["val_acc_best"] = torch.tensor(float("-inf"))
    path = tmp_path / "diverged.ckpt"
    torch.save(checkpoint, path)
    check_readable(path)
    # An overflowed weight as a NaN (a mutation audit: isnan alone let it through).
    checkpoint["state_dict"]["net.classifier.1.weight"][3, 5] = float("inf")
    torch.save(checkpoint, path)
    with pytest.raises(UserError, match=r"1 of its weight tensors hold NaN or infinity \(net.classifier.1.weight"):
        check_readable(path)
    checkpoint["state_dict"]["net.classifier.1.weight"][3, 5] = float("nan")
    torch.save(checkpoint, path)
    expected = (
        f"error: --ckpt_path {path}: 1 of its weight tensors hold NaN or infinity (net.classifier.1.weight: the run "
        "diverged): give a checkpoint from before, or train again (a lower lr)"
    )
    data = f"--data.data_dir={REPO / 'data'}"
    for args in (["test", f"--ckpt_path={path}", data], ["export", f"--ckpt_path={path}"]):
        result = run_main(*args, cwd=tmp_path)
        assert result.returncode == 1 and result.stderr.strip().splitlines()[-1] == expected, result.stderr[-2000:]
    assert [p.name for p in tmp_path.iterdir()] == ["diverged.ckpt"]
    # A state_dict that is no mapping: a traceback as the model loaded it.
    torch.save({**checkpoint, "state_dict": [1, 2]}, path)
    with pytest.raises(UserError, match=r"its state_dict is \[1, 2\], not a dict \(the file was edited"):
        check_readable(path)


def test_rng_states_put_back_every_generator_through_a_weights_only_checkpoint(tmp_path: Path) -> None:
    """A resume draws what the run that was not stopped drew, in torch, NumPy and Python's random alike."""
    rng = RNGStates()
    torch.save({"RNGStates": rng.state_dict()}, tmp_path / "rng.ckpt")

    def draw() -> tuple:
        return (
            torch.rand(3).tolist(),
            np.random.rand(3).tolist(),
            [random.random() for _ in range(3)],
            random.gauss(0, 1),
        )

    first = draw()
    rng.load_state_dict(torch.load(tmp_path / "rng.ckpt", weights_only=True)["RNGStates"])
    assert draw() == first


EXPORTED = {  # what `python -m mnist_pl export` writes beside best.ckpt, each as its runtime writes it
    "best.pt": ("TorchScript", lambda path: torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), path)),
    "best.onnx": ("ONNX", write_onnx_model),
    "best.pt2": (
        ".pt2 (torch.export)",
        lambda path: torch.export.save(torch.export.export(torch.nn.Linear(2, 2), (torch.rand(1, 2),)), path),
    ),
}


@pytest.mark.parametrize("name", EXPORTED)
def test_an_exported_model_is_named_as_one(tmp_path: Path, name: str) -> None:
    """``export`` writes best.onnx, best.pt2 or best.pt; given as --ckpt_path, each was "truncated or not a
    checkpoint" (TorchScript's after a warning of torch.load's about TorchScript archives)."""
    path, (kind, write) = tmp_path / name, EXPORTED[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit's deprecation, not the check's
        write(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(UserError) as refused:
            check_readable(path)
    assert str(refused.value) == (
        f"--ckpt_path {path}: an exported {kind} model, not a checkpoint: give the .ckpt it was exported from"
    )


def test_a_resume_with_another_checkpoint_interval_names_both() -> None:
    """A train_time_interval is a timedelta, whose repr is no plain value: the settings were printed as a key.
    (Lightning checks by time alone when given one: every_n_epochs 0.)"""
    run = RunCheckpoint(monitor="val/acc", mode="max")
    # Lightning's name, as in the checkpoints of every version of the app: their resumes keep the run's bookkeeping.
    assert run.state_key == ModelCheckpoint(monitor="val/acc", mode="max").state_key
    checkpoint = {"callbacks": {run.state_key: {}}}
    timed = RunCheckpoint(monitor="val/acc", mode="max", train_time_interval=timedelta(minutes=5))
    expected = (
        "--checkpoint.every_n_epochs 0, --checkpoint.train_time_interval 0:05:00: the run's checkpoints are kept by "
        "every_n_epochs 1, train_time_interval null, and so is its resume"
    )
    with pytest.raises(UserError, match=f"^{re.escape(expected)}"):
        timed.refuse_another_keeping(checkpoint)
    run.refuse_another_keeping(checkpoint)  # the run's own: no word


class _SignalAfterTheHooks(MNISTClassifier):
    """SIGTERM in the model's own hook, which Lightning calls after the callbacks' and before it reads its flag."""

    def on_validation_batch_end(self, outputs, batch, batch_idx: int, dataloader_idx: int = 0) -> None:
        if not self.trainer.sanity_checking and batch_idx == 0:
            os.kill(os.getpid(), signal.SIGTERM)


def test_a_sigterm_anywhere_in_a_validation_stops_the_fit_at_its_end_checkpointed(tmp_path: Path) -> None:
    # Hidden from Lightning in the checkpoint's hook, a signal that came after it stopped the validation in
    # its first batch, no checkpoint written: the whole epoch lost (1 in 9 tries by hand).
    checkpoint = RunCheckpoint(dirpath=tmp_path, monitor="val/acc", mode="max", save_last=True)
    trainer = L.Trainer(
        max_epochs=2,
        limit_train_batches=3,
        limit_val_batches=3,
        callbacks=[checkpoint],
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    with contextlib.suppress(SystemExit):  # Lightning's exit after a SIGTERM
        trainer.fit(_SignalAfterTheHooks(LeNet()), datamodule=MNISTDataModule(data_dir=str(REPO / "data")))
    assert trainer.received_sigterm and trainer.fit_loop.epoch_loop.val_loop.batch_progress.total.completed == 3
    assert torch.load(tmp_path / "last.ckpt", weights_only=True)["global_step"] == 3
    assert (
        signal.getsignal(signal.SIGTERM) is not checkpoint._hold_sigterm
    )  # Lightning's handler back, then its caller's


def test_a_resume_knows_the_runs_checkpoint_from_another_of_lightnings_name() -> None:
    """Another ModelCheckpoint (--trainer.callbacks+=) is kept under the same name: its settings were said to be
    the run's ("kept by monitor val/loss"), and a resume given them was not refused, its bookkeeping taken for the
    run's: best-v1.ckpt and last-v1.ckpt beside best.ckpt and last.ckpt (a review)."""
    other = ModelCheckpoint(monitor="val/loss", mode="min")
    run = RunCheckpoint(monitor="val/acc", mode="max")
    checkpoint = {"callbacks": {other.state_key: other.state_dict(), run.state_key: run.state_dict()}}  # other first
    expected = "--checkpoint.mode min: the run's checkpoints are kept by mode max, and so is its resume"
    with pytest.raises(UserError, match=f"^{re.escape(expected)}"):
        RunCheckpoint(monitor="val/acc", mode="min").refuse_another_keeping(checkpoint)
    with pytest.raises(UserError, match=r"^--checkpoint\.monitor val/loss, --checkpoint\.mode min: the run's"):
        RunCheckpoint(monitor="val/loss", mode="min").refuse_another_keeping(checkpoint)
    run.refuse_another_keeping(checkpoint)  # the run's own: no word
