"""Runs that repeat, resume and stop exactly, across processes, compared tensor by tensor and point by point.

The runs are tiny (5 batches of 64 per epoch, 3 epochs) but have everything a resume can get
wrong: dropout (global torch RNG), shuffled data (a new order every epoch), SGD momentum, a
StepLR schedule, ``val/acc_best`` and ``best.ckpt``.
"""

import contextlib
import csv as csv_module
import errno
import hashlib
import io
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest.mock import ANY

import lightning as L
import pytest
import torch
from conftest import REPO, child_env, full_disk, run_cli, run_main, stopped_as_a_group
from jsonargparse import Namespace
from lightning.pytorch.cli import LightningArgumentParser
from lightning.pytorch.loggers import TensorBoardLogger
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
from torch.utils.tensorboard import SummaryWriter

from mnist_pl import runs, signals
from mnist_pl.__main__ import main
from mnist_pl.callbacks import ImageLogger
from mnist_pl.cli import MNISTCLI
from mnist_pl.data import MNISTDataModule
from mnist_pl.errors import UserError
from mnist_pl.files import no_space, unset_variable
from mnist_pl.runs import SaveConfig, claim_new_version, run_of

EPOCHS = 3
TINY = [
    f"--config={REPO / 'configs' / 'lenet.yaml'}",
    f"--data.data_dir={REPO / 'data'}",
    "--model.net=dropout_net.DropoutNet",
    "--model.scheduler=torch.optim.lr_scheduler.StepLR",
    "--model.scheduler.step_size=1",
    "--model.scheduler.gamma=0.5",
    "--trainer.limit_train_batches=5",
    "--trainer.limit_val_batches=2",
    "--trainer.log_every_n_steps=2",
    "--trainer.enable_progress_bar=false",
    "--test_after_fit=false",
    # ImageLogger's pictures took 1.5 s of a tiny fit's 2.5 s, and have no part in its checkpoints
    # or curves: these runs draw none, but where a test adds PICTURES (a resume, a fork's HPARAMS).
    '--trainer.callbacks=[{"class_path": "lightning.pytorch.callbacks.LearningRateMonitor", '
    '"init_args": {"logging_interval": "epoch"}}]',
]
PICTURES = "--trainer.callbacks+=mnist_pl.callbacks.ImageLogger"
TEST_TINY = [arg for arg in TINY if arg != "--test_after_fit=false"]  # refused outside a fit


def fit(logs: Path, *args: str, here: bool = False) -> subprocess.CompletedProcess:
    """``python -m mnist_pl fit`` in a fresh process, or in this one (``here``)."""
    run = run_main if here else run_cli
    return run("fit", *TINY, f"--trainer.logger.init_args.save_dir={logs}", *args, cwd=logs.parent)


def popen_cli(cwd: Path, *args: str) -> subprocess.Popen:
    """``python -m mnist_pl ARGS`` started in the background (test helpers importable)."""
    env = child_env()
    command = [sys.executable, "-m", "mnist_pl", *args]
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    return subprocess.Popen(command, cwd=cwd, env=env, preexec_fn=_ctrl_c_on, **pipes)


def _ctrl_c_on() -> None:
    # A shell starts a background job (`pytest &`) with SIGINT ignored, which its children inherit
    # and Python then leaves so: the Ctrl-C tests would wait out their pause, then fail.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def popen_fit(cwd: Path, *args: str) -> subprocess.Popen:
    return popen_cli(cwd, "fit", *TINY, PICTURES, *args)


def pause_at(marker: Path, epoch: int, batch: int, stage: str = "train", until_interrupted: bool = False) -> list[str]:
    """Options adding ``PauseForSignal``: the run holds at that batch of that stage until signalled."""
    return [
        "--trainer.callbacks+=pause_for_signal.PauseForSignal",
        f"--trainer.callbacks.epoch={epoch}",
        f"--trainer.callbacks.batch={batch}",
        f"--trainer.callbacks.marker={marker}",
        f"--trainer.callbacks.stage={stage}",
        f"--trainer.callbacks.until_interrupted={until_interrupted}",
    ]


# Ctrl-C takes one more process run of ~15 s: a slow check.
SIGNALS = pytest.mark.parametrize(
    "signum", [signal.SIGTERM, pytest.param(signal.SIGINT, marks=pytest.mark.slow)], ids=["SIGTERM", "Ctrl-C"]
)


def signal_when_paused(proc: subprocess.Popen, marker: Path, signum: signal.Signals, times: int = 1) -> str:
    """Sends ``signum`` (``times`` times, 0.5 s apart) once ``PauseForSignal`` holds the process; its stderr."""
    deadline = time.monotonic() + 120
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), proc.communicate()[1][-3000:]
    for i in range(times):
        time.sleep(0.5 if i else 0)
        proc.send_signal(signum)
    return proc.communicate(timeout=120)[1]


def stopped_line(proc: subprocess.Popen, marker: Path, signum: signal.Signals) -> str:
    """The last line of a process that ``signum``, sent at its pause, stopped with status 1."""
    stderr = signal_when_paused(proc, marker, signum)
    assert proc.returncode == 1, stderr[-3000:]
    return stderr.strip().splitlines()[-1]


SIGNAL_NAMES = {signal.SIGTERM: "SIGTERM", signal.SIGINT: "Ctrl-C"}  # as the error lines name them


@contextlib.contextmanager
def signalled_here_when_paused(marker: Path, signum: signal.Signals) -> Iterator[None]:
    """Sends ``signum`` to this process once ``PauseForSignal`` holds the fit run in it, and only
    then: a fit that failed before pausing must not interrupt pytest. Ctrl-C is Python's own inside."""
    ended = threading.Event()

    def send() -> None:
        while not marker.exists() and not ended.wait(0.02):
            pass
        if not ended.is_set():
            os.kill(os.getpid(), signum)

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # a background pytest ignores SIGINT
    threading.Thread(target=send, daemon=True).start()
    try:
        yield
    finally:
        ended.set()
        signal.signal(signal.SIGINT, previous)


def assert_equal(a: Any, b: Any, where: str) -> None:
    """Equal to the bit: every tensor ``torch.equal``, every other value ``==``, recursively."""
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            assert_equal(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_equal(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def scalars(run: Path) -> dict[str, list[tuple[int, float]]]:
    """Every logged point of the run, read back with TensorBoard's own reader (all event files)."""
    events = EventAccumulator(str(run))
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def assert_same_run(a: Path, b: Path, validations: int = EPOCHS) -> None:
    """Two run dirs ended in the same state: checkpoints to the bit, and the same curves."""
    for name in ("last.ckpt", "best.ckpt"):
        ckpt_a = torch.load(a / "checkpoints" / name, weights_only=True)
        ckpt_b = torch.load(b / "checkpoints" / name, weights_only=True)
        for key in ("epoch", "global_step", "state_dict", "optimizer_states", "lr_schedulers"):
            assert_equal(ckpt_a[key], ckpt_b[key], f"{name}:{key}")
        assert_equal(ckpt_a["callbacks"]["RNGStates"], ckpt_b["callbacks"]["RNGStates"], f"{name}:rng")
        best = [v["best_model_score"] for k, v in ckpt_a["callbacks"].items() if k.startswith("ModelCheckpoint")]
        best_b = [v["best_model_score"] for k, v in ckpt_b["callbacks"].items() if k.startswith("ModelCheckpoint")]
        assert_equal(best, best_b, f"{name}:best_model_score")
    curves_a, curves_b = scalars(a), scalars(b)
    assert curves_a == curves_b  # same tags, steps and values: nothing missing, nothing twice
    assert len(curves_a["val/acc_best"]) == validations


@pytest.fixture(scope="module")
def one_go(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference: EPOCHS epochs in one go, in this process; every run compared with it ran partly in another."""
    logs = tmp_path_factory.mktemp("one_go") / "logs"
    result = fit(logs, f"--trainer.max_epochs={EPOCHS}", here=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return logs / "lenet" / "version_0"


def test_a_checkpoint_kept_at_the_filesystem_root_is_of_no_run(tmp_path: Path) -> None:
    # A container's /model.ckpt: fit, test, validate and predict of it ended in "IndexError: 1" (parents[1]).
    if not os.access("/", os.W_OK):
        pytest.skip("the filesystem root cannot be written here")
    ckpt = Path("/") / f"mnist_pl_test_{os.getpid()}.ckpt"
    ckpt.write_bytes(b"")
    try:
        assert run_of(str(ckpt)) is None
        assert ImageLogger.starts_a_run(TensorBoardLogger(tmp_path), str(ckpt))
    finally:
        ckpt.unlink()


@pytest.mark.slow  # the resume tests compare other processes' runs with one_go too, so they catch this
def test_same_config_same_run_in_another_process(one_go: Path, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    result = fit(logs, f"--trainer.max_epochs={EPOCHS}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert_same_run(one_go, logs / "lenet" / "version_0")


@pytest.mark.slow  # an edge of the default suite's checks: its time (a slower host took 302 s)
def test_a_resume_from_another_folder_keeps_the_runs_checkpoints(tmp_path: Path) -> None:
    """A checkpoint names its folder as the fit did, relative to where it ran: resumed from another folder,
    the run's best and last were forgotten, best-v1.ckpt and last-v1.ckpt written beside them, and the next
    --ckpt_path last resumed from the old last.ckpt."""
    (tmp_path / "a").mkdir()
    first = run_main(
        "fit", *TINY, "--trainer.logger.init_args.save_dir=logs", "--trainer.max_epochs=1", cwd=tmp_path / "a"
    )
    assert first.returncode == 0, first.stderr[-3000:]
    checkpoints = tmp_path / "a" / "logs" / "lenet" / "version_0" / "checkpoints"
    assert torch.load(checkpoints / "last.ckpt", weights_only=True)["callbacks"]  # its dirpath: logs/lenet/...
    resume = ["--trainer.logger.init_args.save_dir=a/logs", f"--ckpt_path={checkpoints / 'last.ckpt'}"]
    resumed = run_main("fit", *TINY, *resume, "--trainer.max_epochs=2", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert {p.name for p in checkpoints.iterdir()} == {"best.ckpt", "last.ckpt"}
    assert torch.load(checkpoints / "last.ckpt", weights_only=True)["global_step"] == 10


@pytest.mark.slow  # processes of their own (their files' size limited): the default suite's time
def test_a_fit_onto_a_full_disk_is_one_line_and_its_checkpoints_stay_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fit on a full disk (an audit, a tmpfs of 1 MB) ended in a traceback of 100-250 lines, the thread of
    TensorBoard's writer's first: as it wrote a checkpoint (3.4 MB here), or the curves (a fresh fit, 32 kB). A
    resume goes on with the settings it was given (config.resume1.yaml: 2 epochs)."""
    args = [
        f"--config={REPO / 'configs' / 'lenet.yaml'}",
        f"--data.data_dir={REPO / 'data'}",
        "--trainer.logger.init_args.save_dir=logs",
    ]
    args += ["--trainer.limit_train_batches=5", "--trainer.limit_val_batches=2", "--trainer.limit_test_batches=2"]
    assert run_main("fit", *args, "--trainer.max_epochs=1", cwd=tmp_path).returncode == 0
    run = Path("logs") / "lenet" / "version_0"
    kept = {path: path.read_bytes() for path in (tmp_path / run / "checkpoints").iterdir()}

    def fit_on_a_full_disk(size: int, *more: str) -> list[str]:
        command = [sys.executable, "-m", "mnist_pl", "fit", *args, *more]
        result = subprocess.run(
            command,
            cwd=tmp_path,
            env=child_env(),
            capture_output=True,
            text=True,
            timeout=600,
            preexec_fn=full_disk(size),
        )
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
        return result.stderr.strip().splitlines()

    last = run / "checkpoints" / "last.ckpt"
    said = "cannot be written (File too large): raise the limit on a file's size (ulimit -f)"  # EFBIG, not ENOSPC
    assert fit_on_a_full_disk(2**20, "--trainer.max_epochs=2", f"--ckpt_path={last}")[-1] == (
        f"error: {run}: {said}; fit: stopped by the size limit in epoch 1 at step 10; the steps after its last "
        f"checkpoint (step 5) are lost: resume with python -m mnist_pl fit --config {run / 'config.resume1.yaml'} "
        f"--ckpt_path {last}"
    )
    assert {path: path.read_bytes() for path in (tmp_path / run / "checkpoints").iterdir()} == kept
    assert fit_on_a_full_disk(2**15, "--trainer.max_epochs=1")[-1] == (
        f"error: logs/lenet/version_1: {said}; fit: stopped by the size limit before an epoch ended: nothing to "
        "resume, run it again"
    )

    def full(*args: object) -> None:  # the closing test's results.json, as the disk fills
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(runs, "write_results", full)
    ended = run_main("fit", *args, "--trainer.max_epochs=1", cwd=tmp_path)
    run = Path("logs") / "lenet" / "version_2"
    assert ended.returncode == 1 and ended.stderr.strip().splitlines()[-1] == (  # not a resume: it would train nothing
        f"error: fit: {run}: cannot be written (No space left on device): free some space; the fit itself ended, "
        f"and is saved in {run}: test it with python -m mnist_pl test --ckpt_path {run}/checkpoints/best.ckpt"
    ), ended.stderr[-3000:]


def test_a_full_disk_is_found_under_what_raised_it() -> None:
    """torch.save's RuntimeError over its write's OSError; a chain that loops (raise err from err) ends the search,
    it looped for good (a review); a context suppressed (raise ... from None) is not searched."""
    full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    try:
        try:
            raise full
        except OSError as err:
            raise RuntimeError("PytorchStreamWriter failed writing file data/0") from err
    except RuntimeError as err:
        assert no_space(err) is full
        looped = RuntimeError("its own cause")
        looped.__cause__ = looped
        assert no_space(looped) is None
        hidden = ValueError("said otherwise")
        hidden.__context__, hidden.__suppress_context__ = err, True
        assert no_space(hidden) is None
    # Raised while handling it, without "from": under its context (a mutation audit).
    try:
        try:
            raise full
        except OSError:
            raise RuntimeError("the writer's own error")  # noqa: B904
    except RuntimeError as err:
        assert no_space(err) is full


def test_a_fork_into_a_folder_named_as_the_other_runs_has_a_best_of_its_own(tmp_path: Path) -> None:
    """The other run's checkpoints folder, relative to where it ran, read from here named the fork's own: the fork
    took the other run's best (here, as of a longer run, one its epochs never reach) and wrote no best.ckpt."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    logs = "--trainer.logger.init_args.save_dir=logs"
    assert run_main("fit", *TINY, logs, "--trainer.max_epochs=1", cwd=tmp_path / "a").returncode == 0
    checkpoint = torch.load(tmp_path / "a" / "logs" / "lenet" / "version_0" / "checkpoints" / "best.ckpt")
    for key, state in checkpoint["callbacks"].items():
        if key.startswith("ModelCheckpoint"):
            state["best_model_score"] = torch.tensor(0.99)
            state["best_k_models"] = dict.fromkeys(state["best_k_models"], torch.tensor(0.99))
    torch.save(checkpoint, tmp_path / "other.ckpt")
    other = f"--ckpt_path={tmp_path / 'other.ckpt'}"
    fork = run_main("fit", *TINY, logs, "--trainer.max_epochs=2", other, cwd=tmp_path / "b")
    assert fork.returncode == 0, fork.stderr[-3000:]
    best = tmp_path / "b" / "logs" / "lenet" / "version_0" / "checkpoints" / "best.ckpt"
    # Its best is its own epoch's, scored by its own validation: not the other run's 0.99.
    states = torch.load(best, weights_only=True)["callbacks"].items()
    (score,) = [state["best_model_score"] for key, state in states if key.startswith("ModelCheckpoint")]
    assert score < 0.99 and f"best.ckpt (val/acc {float(score):.4f})" in fork.stdout


@pytest.mark.slow  # an edge check, 4-6 s: the default suite's time
def test_a_resume_with_other_settings_than_its_run_says_which(tmp_path: Path) -> None:
    # --ckpt_path last (the config's newest run) went on in a run of other settings without a word:
    # one of 5 batches an epoch, say, with 3, or another run than meant.
    logs = tmp_path / "logs"
    assert fit(logs, "--trainer.max_epochs=1").returncode == 0
    resumed = fit(logs, "--trainer.max_epochs=2", "--trainer.limit_train_batches=3", "--ckpt_path=last", here=True)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    run = logs / "lenet" / "version_0"
    assert (
        f"warning: resuming {run} with other settings than its config.yaml's: trainer.limit_train_batches 5 -> 3 "
        f"(config.resume1.yaml has them): resume with --config {run / 'config.yaml'} (and the epochs to add) "
        "to keep its own"
    ) in resumed.stderr
    assert resumed.stderr.count("warning: resuming") == 1


@pytest.mark.slow  # an edge check, 4-6 s: the default suite's time
def test_a_runs_last_checkpoint_fit_into_another_logger_names_the_config_that_goes_on_in_the_run(
    tmp_path: Path,
) -> None:
    # `fit --ckpt_path logs/lenet/version_0/checkpoints/last.ckpt` without --config (the default logger,
    # logs/mnist) trained on in logs/mnist/version_0 without a word: the run's curves cut in two.
    logs = tmp_path / "logs"
    assert fit(logs, "--trainer.max_epochs=1", here=True).returncode == 0
    run = logs / "lenet" / "version_0"
    (run / "config.resume2.yaml").write_text((run / "config.yaml").read_text())  # as two resumes leave it
    (run / "config.resume10.yaml").write_text((run / "config.yaml").read_text())
    last = run / "checkpoints" / "last.ckpt"
    forked = fit(tmp_path / "other", "--trainer.max_epochs=2", f"--ckpt_path={last}", here=True)
    assert forked.returncode == 0, forked.stderr[-3000:]
    new = tmp_path / "other" / "lenet" / "version_0"
    assert (
        f"warning: {last} is the last state of the run {run}, which this fit's logger does not write: it goes on "
        f"in a new run, {new}: to go on in its own, resume with --config {run / 'config.resume10.yaml'} "
        f"--trainer.logger.init_args.save_dir {logs}"
    ) in forked.stderr
    assert (new / "checkpoints" / "last.ckpt").is_file()
    # A bare last.ckpt, from its own folder: an IndexError (its parents as typed).
    logger = f"--trainer.logger.init_args.save_dir={tmp_path / 'bare'}"
    bare = run_main("fit", *TINY, logger, "--trainer.max_epochs=2", "--ckpt_path=last.ckpt", cwd=last.parent)
    assert bare.returncode == 0 and f"warning: last.ckpt is the last state of the run {run}," in bare.stderr
    # Its best.ckpt is no last state: a fork from it is a new run by intent, without a word.
    best = fit(tmp_path / "third", "--trainer.max_epochs=2", f"--ckpt_path={run / 'checkpoints' / 'best.ckpt'}")
    assert best.returncode == 0 and "is the last state" not in best.stderr
    # The advice goes on in the run, from any folder.
    (tmp_path / "elsewhere").mkdir()
    advice = [f"--config={run / 'config.resume10.yaml'}", f"--trainer.logger.init_args.save_dir={logs}"]
    advised = run_main("fit", *advice, "--trainer.max_epochs=2", f"--ckpt_path={last}", cwd=tmp_path / "elsewhere")
    assert advised.returncode == 0 and f"Run saved in {run}:" in advised.stdout, advised.stderr[-2000:]


def test_a_resumes_settings_are_compared_with_those_the_run_trained_with_last(tmp_path: Path, recwarn: Any) -> None:
    """With the newest config.resumeN.yaml before its own, not the run's config.yaml: a resume of a resume that
    changed a setting was told that setting differed, and to resume with the config it had left."""
    for name, batches in (("config.yaml", 5), ("config.resume1.yaml", 3), ("config.resume2.yaml", 3)):
        (tmp_path / name).write_text(f"trainer:\n  limit_train_batches: {batches}\n")
    SaveConfig(None, Namespace(), config_filename="config.resume2.yaml").warn_of_other_settings(tmp_path)
    assert not [w for w in recwarn if "resuming" in str(w.message)]
    (tmp_path / "config.resume2.yaml").write_text("trainer:\n  limit_train_batches: 5\n")
    SaveConfig(None, Namespace(), config_filename="config.resume2.yaml").warn_of_other_settings(tmp_path)
    (said,) = [str(w.message) for w in recwarn if "resuming" in str(w.message)]
    assert "than its config.resume1.yaml's: trainer.limit_train_batches 3 -> 5" in said
    assert said.endswith(f"--config {tmp_path / 'config.resume1.yaml'} (and the epochs to add) to keep its own")


def test_resume_from_last_continues_the_run_exactly(
    one_go: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # With a data worker: its first batches, fetched as the loader was made, were epoch 0's order again.
    logs, worker = tmp_path / "logs", "--data.num_workers=1"
    first = fit(logs, "--trainer.max_epochs=1", PICTURES, worker)
    assert first.returncode == 0, first.stderr[-3000:]
    run = logs / "lenet" / "version_0"
    config_before = (run / "config.yaml").read_bytes()
    # A point logged after the last checkpoint, as by a run killed before it saved again: hidden by the resume.
    with SummaryWriter(str(run)) as stray:
        stray.add_scalar("val/acc", 0.5, global_step=10_000)

    resumed = fit(logs, f"--trainer.max_epochs={EPOCHS}", PICTURES, worker, "--ckpt_path=last", here=True)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert (run / "curves.png").is_file()
    assert [p.name for p in (logs / "lenet").iterdir()] == ["version_0"]  # the same run, no new version
    assert {p.name for p in (run / "checkpoints").iterdir()} == {"best.ckpt", "last.ckpt"}
    assert (run / "config.yaml").read_bytes() == config_before  # the resume's config is saved beside it
    assert (run / "config.resume1.yaml").exists() and "with other settings than" not in resumed.stderr
    # The reader's words for points hidden: only the stray one, none the resume logged again. (The app's
    # reading for curves.png keeps them quiet: read again here.)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="tensorboard"):
        EventAccumulator(str(run)).Reload()
    purges = [r.getMessage() for r in caplog.records if "Purging expired" in r.getMessage()]
    assert len(purges) == 1 and "Removing 1 scalars, 0 histograms" in purges[0], purges
    assert_same_run(one_go, run)
    # The HPARAMS tab's settings are written once per run, not again by its resume.
    tags = [
        value.tag
        for f in run.glob("events.*")
        for event in EventFileLoader(str(f)).Load()
        for value in event.summary.value
    ]
    assert tags.count("_hparams_/experiment") == 1


@pytest.mark.slow  # an edge of the default suite's checks: its time (a slower host took 302 s)
def test_a_resume_with_data_workers_is_exact(one_go: Path, tmp_path: Path) -> None:
    """Workers fetched the first batches as the loader was made, before Lightning set the resumed epoch:
    the resume trained epoch 0's order again. And kept across epochs, they drew their seed from the
    torch RNG once, not every epoch: each later epoch's dropout masks were another run's."""
    logs, workers = tmp_path / "logs", "--data.num_workers=2"
    first = fit(logs, "--trainer.max_epochs=1", workers, here=True)
    assert first.returncode == 0, first.stderr[-3000:]
    resumed = fit(logs, f"--trainer.max_epochs={EPOCHS}", workers, "--ckpt_path=last", here=True)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert_same_run(one_go, logs / "lenet" / "version_0")


@pytest.mark.slow  # an edge of the default suite's checks: its time (a slower host took 302 s)
@pytest.mark.parametrize("step", [7, 5], ids=["mid-epoch", "epoch end"])
def test_a_resume_with_data_workers_and_a_one_cycle_schedule_is_exact(tmp_path: Path, step: int) -> None:
    """A schedule laid out over the run's steps has Lightning build the training loader (for
    ``estimated_stepping_batches``) before it restores the loops: the workers fetched the resumed epoch's
    first batches in epoch 0's order. (Resumed from a checkpoint of the run, as its max_epochs stays.)"""
    cycle = ["--model.scheduler=torch.optim.lr_scheduler.OneCycleLR", "--model.scheduler.max_lr=0.05"]
    every = ["--checkpoint.save_top_k=-1", "--checkpoint.monitor=null"]  # after every validation: step=5, ...
    every += [f"--checkpoint.every_n_train_steps={step}"] if step % 5 else []  # and in the middle of epoch 1
    args = [f"--trainer.max_epochs={EPOCHS}", *cycle, "--data.num_workers=1", "--checkpoint.filename={step}"]
    one_go = fit(tmp_path / "one_go", *args, *every, here=True)
    assert one_go.returncode == 0, one_go.stderr[-3000:]
    reference = tmp_path / "one_go" / "lenet" / "version_0" / "checkpoints"
    resumed = fit(tmp_path / "logs", *args, f"--ckpt_path={reference / f'step={step}.ckpt'}", here=True)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    ckpt_a = torch.load(reference / "last.ckpt", weights_only=True)
    ckpt_b = torch.load(tmp_path / "logs" / "lenet" / "version_0" / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt_a["global_step"] == ckpt_b["global_step"] == 5 * EPOCHS
    for key in ("state_dict", "optimizer_states", "lr_schedulers"):
        assert_equal(ckpt_a[key], ckpt_b[key], key)


PLATEAU = [
    "--model.scheduler=lightning.pytorch.cli.ReduceLROnPlateau",
    "--model.scheduler.monitor=val/loss",
    "--model.scheduler.patience=0",
]


@pytest.mark.parametrize(
    "stop",
    [
        pytest.param(["--trainer.max_epochs=1"], marks=pytest.mark.slow),
        ["--trainer.max_steps=7", "--trainer.val_check_interval=2"],
    ],
    ids=["epoch end", "mid-epoch"],
)
def test_a_resume_with_a_plateau_schedule_is_exact(tmp_path: Path, stop: list[str]) -> None:
    """Lightning skips a plateau schedule's step at the end of the epoch a run resumes in (its value is
    in no checkpoint): the resumed run trained on at the lr the run never stopped had cut."""
    every = stop[1:]
    one_go = fit(tmp_path / "one_go", f"--trainer.max_epochs={EPOCHS}", *PLATEAU, *every, here=True)
    stopped = fit(tmp_path / "logs", *stop, *PLATEAU, here=True)
    resumed = fit(tmp_path / "logs", f"--trainer.max_epochs={EPOCHS}", *PLATEAU, *every, "--ckpt_path=last", here=True)
    for result in (one_go, stopped, resumed):
        assert result.returncode == 0, result.stderr[-3000:]
    reference, run = tmp_path / "one_go" / "lenet" / "version_0", tmp_path / "logs" / "lenet" / "version_0"
    # Each epoch's step taken once, with its own value: the schedule's count and best, and the lr, are the run's.
    (schedule,) = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["lr_schedulers"]
    assert schedule["last_epoch"] == EPOCHS - 1  # last.ckpt is written before the last epoch's step
    if every:  # the stopped run logged its epoch's training values at its last step: checkpoints only
        for name in ("last.ckpt", "best.ckpt"):
            ckpts = [torch.load(r / "checkpoints" / name, weights_only=True) for r in (reference, run)]
            for key in ("global_step", "state_dict", "optimizer_states", "lr_schedulers"):
                assert_equal(ckpts[0][key], ckpts[1][key], f"{name}:{key}")
    else:
        assert_same_run(reference, run)


def test_a_resumed_plateau_schedules_cut_is_on_its_lr_curve(tmp_path: Path) -> None:
    """The step a resume takes for the epoch it starts in came after LearningRateMonitor had logged that epoch's
    lr, config callbacks coming first: the curve showed the cut an epoch late, the training right (a review)."""
    cuts = [*PLATEAU, "--model.scheduler.threshold=10"]  # never an improvement: a cut after every epoch
    one_go = fit(tmp_path / "one_go", f"--trainer.max_epochs={EPOCHS}", *cuts, here=True)
    stopped = fit(tmp_path / "logs", "--trainer.max_epochs=1", *cuts, here=True)
    resumed = fit(tmp_path / "logs", f"--trainer.max_epochs={EPOCHS}", *cuts, "--ckpt_path=last", here=True)
    for result in (one_go, stopped, resumed):
        assert result.returncode == 0, result.stderr[-3000:]
    reference, run = tmp_path / "one_go" / "lenet" / "version_0", tmp_path / "logs" / "lenet" / "version_0"
    curves = [scalars(r)["lr-SGD"] for r in (reference, run)]
    assert curves[0] == curves[1]
    assert len({lr for _, lr in curves[0]}) == EPOCHS  # cut each epoch


@pytest.mark.slow  # an edge of the default suite's checks: its time (a slower host took 302 s)
@pytest.mark.parametrize(
    "stop",
    [
        ["--trainer.max_steps=7"],  # epoch 1 cut at its 2nd batch, before any validation in it
        # cut at its 3rd batch, after a validation at its 2nd, and saved there with that value
        ["--trainer.max_steps=8", "--trainer.val_check_interval=2", "--checkpoint.save_on_train_epoch_end=true"],
    ],
    ids=["before a validation", "after a validation"],
)
def test_a_plateau_schedule_resumed_after_a_cut_epoch_takes_no_extra_step(tmp_path: Path, stop: list[str]) -> None:
    """An epoch cut by max_steps is counted finished, without a step: the resume stepped it again with
    the epoch before's value, a bad epoch, and cut the lr (or with the value of its middle)."""
    stopped = fit(tmp_path / "logs", *stop, *PLATEAU, here=True)
    resumed = fit(tmp_path / "logs", f"--trainer.max_epochs={EPOCHS}", *PLATEAU, "--ckpt_path=last", here=True)
    assert stopped.returncode == 0 and resumed.returncode == 0, stopped.stderr[-3000:] + resumed.stderr[-3000:]
    last = torch.load(tmp_path / "logs" / "lenet" / "version_0" / "checkpoints" / "last.ckpt", weights_only=True)
    (schedule,) = last["lr_schedulers"]
    assert last["epoch"] == 2 and schedule["last_epoch"] == 1  # epoch 0's step only: epoch 2's comes after


@pytest.mark.slow  # an edge of the default suite's checks: its time (a slower host took 302 s)
def test_a_plateau_schedule_on_every_other_epochs_validation_resumes_exactly(tmp_path: Path) -> None:
    # It steps after the epochs that validate (1 and 3): the resume from epoch 1's end takes Lightning's
    # skipped step, as the schedule's state in the last checkpoint shows.
    every = ["--trainer.check_val_every_n_epoch=2", *PLATEAU]
    one_go = fit(tmp_path / "one_go", "--trainer.max_epochs=4", *every, here=True)
    stopped = fit(tmp_path / "logs", "--trainer.max_epochs=2", *every, here=True)
    resumed = fit(tmp_path / "logs", "--trainer.max_epochs=4", *every, "--ckpt_path=last", here=True)
    for result in (one_go, stopped, resumed):
        assert result.returncode == 0, result.stderr[-3000:]
    reference, run = tmp_path / "one_go" / "lenet" / "version_0", tmp_path / "logs" / "lenet" / "version_0"
    (schedule,) = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["lr_schedulers"]
    assert schedule["last_epoch"] == 1  # epoch 1's step; epoch 3's comes after its checkpoint
    assert_same_run(reference, run, validations=2)


@pytest.mark.slow  # an edge of the default suite's checks: its time (a slower host took 302 s)
def test_a_plateau_schedule_on_a_training_metric_takes_no_step_with_an_older_value(tmp_path: Path) -> None:
    """train/loss is logged after an epoch's checkpoint: the resume has no value of the epoch it resumes
    after, and takes no step (docs/runs.md says so), rather than one with the epoch before's value."""
    on_training = [*PLATEAU[:1], "--model.scheduler.monitor=train/loss", "--model.scheduler.patience=0"]
    stopped = fit(tmp_path / "logs", "--trainer.max_epochs=2", *on_training, here=True)
    resumed = fit(tmp_path / "logs", f"--trainer.max_epochs={EPOCHS}", *on_training, "--ckpt_path=last", here=True)
    assert stopped.returncode == 0 and resumed.returncode == 0, stopped.stderr[-3000:] + resumed.stderr[-3000:]
    last = torch.load(tmp_path / "logs" / "lenet" / "version_0" / "checkpoints" / "last.ckpt", weights_only=True)
    (schedule,) = last["lr_schedulers"]
    assert last["epoch"] == 2 and schedule["last_epoch"] == 1


@pytest.mark.slow  # three more fits; double precision is rare for MNIST
def test_a_resume_in_double_precision_is_exact(tmp_path: Path) -> None:
    """Lightning loads the checkpoint's weights into the float32 model, then makes it float64: rounded."""
    double = "--trainer.precision=64-true"
    one_go = fit(tmp_path / "one_go", f"--trainer.max_epochs={EPOCHS}", double, here=True)
    stopped = fit(tmp_path / "logs", "--trainer.max_epochs=1", double, here=True)
    resumed = fit(tmp_path / "logs", f"--trainer.max_epochs={EPOCHS}", double, "--ckpt_path=last", here=True)
    for result in (one_go, stopped, resumed):
        assert result.returncode == 0, result.stderr[-3000:]
    assert_same_run(tmp_path / "one_go" / "lenet" / "version_0", tmp_path / "logs" / "lenet" / "version_0")


@pytest.mark.parametrize(
    ("every", "step", "curves"),
    [
        # Validation, and so a checkpoint, after every 2 of the epoch's 5 batches; stopped at the 2nd.
        (["--trainer.val_check_interval=2"], 2, True),
        # A checkpoint at the end of every 3rd batch, before Lightning counts that batch completed.
        pytest.param(
            ["--checkpoint.every_n_train_steps=3", "--checkpoint.monitor=null", "--checkpoint.save_top_k=-1"],
            3,
            False,
            marks=pytest.mark.slow,
        ),
        # Two batches a step, 9 an epoch: validation after the 4th batch, at step 2, where it stops.
        pytest.param(
            [
                "--trainer.accumulate_grad_batches=2",
                "--trainer.limit_train_batches=9",
                "--trainer.val_check_interval=4",
            ],
            2,
            True,
            marks=pytest.mark.slow,  # an edge of the two above: the default suite's time
        ),
    ],
    ids=["val_check_interval", "every_n_train_steps", "accumulate_grad_batches"],
)
def test_resume_from_the_middle_of_an_epoch_is_exact(tmp_path: Path, every: list[str], step: int, curves: bool) -> None:
    # Lightning alone trained the resumed epoch's first batches again, and drew other dropout masks.
    # Stopped by a SIGTERM at the step's last batch (a cut by max_steps is an epoch's end, resumed with the next).
    one_go = fit(tmp_path / "one_go", "--trainer.max_epochs=2", *every, here=True)
    batches = 2 if "--trainer.accumulate_grad_batches=2" in every else 1
    marker = tmp_path / "paused"
    with signalled_here_when_paused(marker, signal.SIGTERM):
        pause = pause_at(marker, epoch=0, batch=step * batches - 1)
        stopped = fit(tmp_path / "logs", "--trainer.max_epochs=2", *every, *pause, here=True)
    assert one_go.returncode == 0 and stopped.returncode == 1, one_go.stderr[-3000:] + stopped.stderr[-3000:]
    last = tmp_path / "logs" / "lenet" / "version_0" / "checkpoints" / "last.ckpt"
    assert torch.load(last, weights_only=True)["global_step"] == step  # in the middle of epoch 0
    mid = tmp_path / "mid.ckpt"
    mid.write_bytes(last.read_bytes())
    # In batches of another size the resumed epoch would skip the wrong images: refused, the run left as it
    # was, in one line (a warning of the other setting came first, naming the config.resume1.yaml it removed).
    before = files(last.parents[1])
    other = fit(
        tmp_path / "logs", "--trainer.max_epochs=2", *every, "--ckpt_path=last", "--data.batch_size=32", here=True
    )
    assert other.returncode == 1 and "warning: resuming" not in other.stderr, other.stderr[-3000:]
    assert (
        other.stderr.strip()
        .splitlines()[-1]
        .startswith(
            "error: --data.batch_size 32: the checkpoint is from the middle of an epoch trained in batches of 64"
        )
    )
    assert files(last.parents[1]) == before and [p.name for p in last.parents[2].iterdir()] == ["version_0"]
    resumed = fit(tmp_path / "logs", "--trainer.max_epochs=2", *every, "--ckpt_path=last", here=True)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    a = torch.load(tmp_path / "one_go" / "lenet" / "version_0" / "checkpoints" / "last.ckpt", weights_only=True)
    b = torch.load(last, weights_only=True)
    for key in ("epoch", "global_step", "state_dict", "optimizer_states"):
        assert_equal(a[key], b[key], key)
    assert_equal(a["callbacks"]["RNGStates"], b["callbacks"]["RNGStates"], "rng")
    # The curves too: the points logged at the checkpoint's step stay, and the resumed epoch's
    # train/loss and train/acc average all its batches (an interruption logs no epoch end).
    # Tested in batches of another size it is fine: no training batch is skipped.
    data, logs = f"--data.data_dir={REPO / 'data'}", f"--trainer.logger.init_args.save_dir={tmp_path / 'tests'}"
    args = [f"--ckpt_path={mid}", data, logs, "--data.batch_size=32", "--trainer.limit_test_batches=1"]
    test = run_main("test", *args, cwd=tmp_path)
    assert test.returncode == 0, test.stderr[-3000:]
    if curves:
        assert scalars(last.parents[1]) == scalars(tmp_path / "one_go" / "lenet" / "version_0")


@pytest.mark.parametrize(
    "every",
    [
        ["--trainer.max_epochs=2"],  # the epoch's last batch: validated, then the epoch's end
        pytest.param(["--trainer.max_epochs=2", "--checkpoint.monitor=null"], marks=pytest.mark.slow),
        # A validation inside the epoch (Lightning itself waits for a monitored one's value there)
        pytest.param(
            [
                "--trainer.max_epochs=1",
                "--trainer.limit_train_batches=10",
                "--trainer.val_check_interval=5",
                "--checkpoint.monitor=null",
            ],
            marks=pytest.mark.slow,  # decided as saved-at-epoch-end's step 5, below
        ),
        # Lightning saves at the epoch's end, and validates inside it too: held to the epoch's end, step 5 was lost.
        [
            "--trainer.max_epochs=1",
            "--trainer.limit_train_batches=10",
            "--trainer.val_check_interval=5",
            "--checkpoint.save_on_train_epoch_end=true",
        ],
    ],
    ids=["epoch-end", "epoch-end-unmonitored", "val_check_interval-unmonitored", "saved-at-epoch-end"],
)
def test_a_step_checkpoint_before_a_validation_holds_that_validation(tmp_path: Path, every: list[str]) -> None:
    # Lightning wrote a step checkpoint due at a batch a validation follows before that validation:
    # ranked by the validation before (best.ckpt by a stale val/acc), without this one's val/acc_best,
    # and a resume from it skipped it. Monitoring val/acc, the epoch's last step of epoch 0 wrote none.
    steps = ["--checkpoint.every_n_train_steps=5", "--checkpoint.save_top_k=-1", "--checkpoint.filename={step}"]
    result = fit(tmp_path / "logs", *steps, *every, here=True)
    assert result.returncode == 0, result.stderr[-3000:]
    (run,) = (tmp_path / "logs").glob("*/version_0")
    best = dict(scalars(run)["val/acc_best"])  # after the validation of each step N, at point N - 1
    saved = {path.name: torch.load(path, weights_only=True) for path in (run / "checkpoints").glob("*.ckpt")}
    assert sorted(saved) == ["last.ckpt", "step=10.ckpt", "step=5.ckpt"]
    for checkpoint in saved.values():
        held = checkpoint["state_dict"]["val_acc_best.max_value"].item()
        assert held == pytest.approx(best[checkpoint["global_step"] - 1]), checkpoint["global_step"]
    if "--checkpoint.monitor=null" not in every:  # ranked by its own validation
        (state,) = (v for k, v in saved["step=10.ckpt"]["callbacks"].items() if k.startswith("ModelCheckpoint"))
        assert state["best_model_score"].item() == pytest.approx(max(best.values()))


@pytest.mark.parametrize(
    "cut",
    [
        ["--trainer.max_steps=3"],
        # Where Lightning saves after validations, the 3rd step was in no checkpoint (last.ckpt held the
        # 2nd, mid-epoch: the resume went on with the cut epoch, at its 3rd batch).
        ["--trainer.max_steps=3", "--trainer.val_check_interval=2"],
        # A stop of Lightning's Timer (--trainer.max_time) in an epoch that does not validate: in no checkpoint.
        [
            "--trainer.callbacks+=stop_after.StopAfter",
            "--trainer.callbacks.steps=3",
            "--trainer.check_val_every_n_epoch=2",
        ],
    ],
)
def test_a_fit_cut_by_max_steps_resumes_with_the_next_epoch_whole(tmp_path: Path, cut: list[str]) -> None:
    # Lightning counts an epoch that --trainer.max_steps cut short as finished, and resumes its
    # checkpoint with the next epoch; the data then also skipped the cut epoch's 3 batches in it.
    record = "--trainer.callbacks+=batch_recorder.BatchRecorder"
    stopped = fit(tmp_path / "logs", *cut, record, f"--trainer.callbacks.out_dir={tmp_path}", here=True)
    assert stopped.returncode == 0, stopped.stderr[-3000:]
    last = torch.load(tmp_path / "logs" / "lenet" / "version_0" / "checkpoints" / "last.ckpt", weights_only=True)
    assert (last["epoch"], last["global_step"]) == (0, 3)
    resumed_dir = tmp_path / "resumed"
    resumed = fit(
        tmp_path / "logs",
        *cut[-1:] if "check_val" in cut[-1] else [],
        "--trainer.max_epochs=2",
        "--ckpt_path=last",
        record,
        f"--trainer.callbacks.out_dir={resumed_dir}",
        here=True,
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    dm = MNISTDataModule(data_dir=str(REPO / "data"))
    dm.setup("fit")
    loader = dm.train_dataloader()
    loader.sampler.set_epoch(1)
    images = dm.normalize(dm.train_set.images[list(loader.sampler)[: 5 * 64]])
    expected = [hashlib.md5(image.numpy().tobytes()).hexdigest() for image in images]
    assert (resumed_dir / "rank0.txt").read_text().split() == expected  # epoch 1, all 5 of its batches
    last = torch.load(tmp_path / "logs" / "lenet" / "version_0" / "checkpoints" / "last.ckpt", weights_only=True)
    assert (last["epoch"], last["global_step"]) == (1, 3 + 5)


def test_results_json_is_never_written_over_nor_left_half_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each evaluation's own file: written in place, an earlier one was replaced, and a write cut short (a full
    disk, a crash) left half a file (a mutation audit)."""
    earlier = tmp_path / "results.json"
    earlier.write_text('{"test/acc": 0.99}\n')
    with pytest.raises(FileExistsError):
        runs.write_results(earlier, {"test/acc": 0.5}, None)
    assert earlier.read_text() == '{"test/acc": 0.99}\n'
    written = []

    def cut_short(self: Path, text: str) -> None:
        written.append(self)
        with self.open("w") as f:
            f.write(text[:5])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_text", cut_short)
    with pytest.raises(OSError):
        runs.write_results(tmp_path / "new.json", {"test/acc": 0.5}, None)
    assert written and written[0].name != "new.json" and sorted(p.name for p in tmp_path.iterdir()) == ["results.json"]


def test_a_checkpoint_of_an_epochs_last_batch_resumes_with_the_next_epoch(tmp_path: Path) -> None:
    """Written at the last batch's end with no validation after it, where Lightning's epoch is not over yet:
    the data state must name the next epoch whole, or a resume skips its first batches (a mutation audit)."""
    every = ["--checkpoint.every_n_train_steps=5", "--checkpoint.save_top_k=-1", "--checkpoint.monitor=null"]
    args = ["--trainer.limit_val_batches=0", "--trainer.max_epochs=1", "--checkpoint.filename={step}", *every]
    result = fit(tmp_path / "logs", *args, here=True)
    assert result.returncode == 0, result.stderr[-3000:]
    ckpt = torch.load(tmp_path / "logs" / "lenet" / "version_0" / "checkpoints" / "step=5.ckpt", weights_only=True)
    state = ckpt["MNISTDataModule"]
    assert (state["batches_done"], state["epoch"]) == (0, 1)


def test_a_fit_from_a_checkpoint_between_accumulated_batches_warns(tmp_path: Path) -> None:
    """Validated after batch 3 of steps of 2 (Lightning counts batches), its checkpoints lack batch 3's gradients:
    a fit from one went on without them, without a word (a review)."""
    every = ["--trainer.accumulate_grad_batches=2", "--checkpoint.save_top_k=-1", "--checkpoint.filename={step}"]
    args = ["--trainer.max_epochs=1", "--trainer.limit_val_batches=1", *every]
    result = fit(tmp_path / "logs", *args, "--trainer.val_check_interval=3", here=True)
    assert result.returncode == 0, result.stderr[-3000:]
    checkpoints = tmp_path / "logs" / "lenet" / "version_0" / "checkpoints"
    assert torch.load(checkpoints / "step=1.ckpt", weights_only=True)["MNISTDataModule"]["batches_done"] == 3
    resumed = fit(
        tmp_path / "again", *args, "--trainer.val_check_interval=3", f"--ckpt_path={checkpoints / 'step=1.ckpt'}"
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert (
        "the checkpoint was written after batch 3 of its epoch, between batches accumulated for steps of 2: the "
        "gradients of those since its last step are in no checkpoint, and this fit goes on without them"
    ) in " ".join(resumed.stderr.split())


@pytest.mark.slow  # an edge check, 4-6 s: the default suite's time
def test_a_resume_that_would_skip_other_images_is_refused(tmp_path: Path) -> None:
    # From the middle of an epoch the resumed run skips the batches trained: only in the same order
    # and shards. (Another batch size: test_resume_from_the_middle_of_an_epoch_is_exact.)
    every = ["--checkpoint.every_n_train_steps=3", "--checkpoint.monitor=null", "--trainer.max_steps=3"]
    stopped = fit(tmp_path / "logs", *every, here=True)
    assert stopped.returncode == 0, stopped.stderr[-3000:]
    run = tmp_path / "logs" / "lenet" / "version_0"
    mid = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert mid["MNISTDataModule"]["batches_done"] == 3
    mid["MNISTDataModule"]["processes"] = 2  # as a 2-process DDP fit writes it
    torch.save(mid, tmp_path / "ddp.ckpt")
    before = files(run)
    for ckpt, args, error in [
        (
            "last",
            ["--data.shuffle_seed=1"],
            "error: --data.shuffle_seed 1: the checkpoint is from the middle of an epoch shuffled with seed 0: "
            "resume with --data.shuffle_seed 0, or from an epoch's end",
        ),
        (  # the resumed epoch was longer than either limit: 3 batches skipped, then 4 more
            "last",
            ["--trainer.limit_train_batches=4"],
            "error: --trainer.limit_train_batches 4: the checkpoint is from the middle of an epoch limited to 5: "
            "resume with --trainer.limit_train_batches 5, or from an epoch's end",
        ),
        (
            tmp_path / "ddp.ckpt",
            [],
            "error: --trainer.devices: the checkpoint is from the middle of an epoch trained in 2 processes, "
            "this run has 1: resume with as many (--trainer.devices x --trainer.num_nodes), or from an epoch's end",
        ),
    ]:
        kept = every[:2]  # its checkpoints kept as they were (a resume keeps them)
        resumed = fit(tmp_path / "logs", *kept, "--trainer.max_epochs=2", f"--ckpt_path={ckpt}", *args, here=True)
        assert resumed.returncode == 1 and resumed.stderr.strip().splitlines()[-1] == error
    assert files(run) == before and [p.name for p in run.parent.iterdir()] == ["version_0"]
    # A test from it trains no batch: the data module's next fit (in Python) skipped the 3 batches.
    last = run / "checkpoints" / "last.ckpt"
    cli = MNISTCLI(args=["test", f"--data.data_dir={REPO / 'data'}", f"--ckpt_path={last}", "--trainer.logger=false"])
    assert cli.datamodule.train_dataloader().sampler.skip == 0


@pytest.mark.parametrize(
    "every",
    [
        # Validation after batches 2 and 4 of 5: last.ckpt was written there, and batch 5 was in no checkpoint.
        "--trainer.val_check_interval=2",
        # Validation after the epoch's last batch, inside Lightning's epoch loop: last.ckpt written there was
        # resumed with that validation's points hidden in TensorBoard.
        pytest.param("--trainer.val_check_interval=5", marks=pytest.mark.slow),
    ],
)
def test_a_run_resumed_from_its_epoch_end_is_the_run_never_stopped(tmp_path: Path, every: str) -> None:
    one_go = fit(tmp_path / "one_go", "--trainer.max_epochs=2", every, here=True)
    first = fit(tmp_path / "logs", "--trainer.max_epochs=1", every, here=True)
    assert one_go.returncode == 0 and first.returncode == 0, one_go.stderr[-3000:] + first.stderr[-3000:]
    last = tmp_path / "logs" / "lenet" / "version_0" / "checkpoints" / "last.ckpt"
    assert torch.load(last, weights_only=True)["global_step"] == 5
    resumed = fit(tmp_path / "logs", "--trainer.max_epochs=2", every, "--ckpt_path=last", here=True)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    a = torch.load(tmp_path / "one_go" / "lenet" / "version_0" / "checkpoints" / "last.ckpt", weights_only=True)
    b = torch.load(last, weights_only=True)
    for key in ("epoch", "global_step", "state_dict", "optimizer_states", "lr_schedulers"):
        assert_equal(a[key], b[key], key)
    assert scalars(last.parents[1]) == scalars(tmp_path / "one_go" / "lenet" / "version_0")


@SIGNALS
def test_signal_stops_with_a_resume_line_and_the_resume_is_exact(
    one_go: Path, tmp_path: Path, signum: signal.Signals
) -> None:
    """Signalled in epoch 1 (after some of its points were logged), resumed from the message's command."""
    logs, marker = tmp_path / "logs", tmp_path / "paused"
    proc = popen_fit(
        tmp_path,
        f"--trainer.logger.init_args.save_dir={logs}",
        f"--trainer.max_epochs={EPOCHS}",
        *pause_at(marker, epoch=1, batch=3),
    )
    stderr = signal_when_paused(proc, marker, signum)
    assert proc.returncode != 0
    run = logs / "lenet" / "version_0"
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("error: fit: stopped by ")
    # Both stop after the paused batch, checkpointed there (Lightning stopped a Ctrl-C at once, the
    # steps since the epoch's end lost).
    assert " in epoch 1 at step 9; checkpointed there: resume with " in last
    if signum == signal.SIGINT:
        assert "Ctrl-C: stopping after this batch (Ctrl-C again: at once)" in stderr
        assert last.startswith("error: fit: stopped by Ctrl-C ")
    command = re.search(r"resume with python -m mnist_pl (fit .*)$", last).group(1).split()
    assert command[-1] == str(run / "checkpoints" / "last.ckpt")
    assert not (run / "curves.png").exists()  # drawn as a run ends, which this one has not (a mutation audit)

    resumed = run_main(*command, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert_same_run(one_go, run)


def test_a_signal_after_a_batchs_hooks_stops_the_fit_checkpointed(one_go: Path, tmp_path: Path) -> None:
    """After the batch's hooks (the run checkpoint's among them) and before Lightning's own look for a stop, it
    stopped there unsaved: "nothing to resume" in a first epoch, the steps since the last epoch's end lost
    (1 stop in 8 in an audit, on a loaded CPU). It stops after the next batch, checkpointed there."""
    logs, marker = tmp_path / "logs", tmp_path / "paused"
    with signalled_here_when_paused(marker, signal.SIGTERM):
        pause = pause_at(marker, epoch=1, batch=2, stage="after batch hooks")
        stopped = fit(logs, f"--trainer.max_epochs={EPOCHS}", *pause, here=True)
    assert stopped.returncode == 1, stopped.stderr[-3000:]
    last = stopped.stderr.strip().splitlines()[-1]
    assert " in epoch 1 at step 9; checkpointed there: resume with " in last, last
    command = re.search(r"resume with python -m mnist_pl (fit .*)$", last).group(1).split()
    resumed = run_main(*command, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert_same_run(one_go, logs / "lenet" / "version_0")


@pytest.mark.slow  # a fit with a worker process, stopped: the default suite stops fits without
@SIGNALS
def test_a_signal_to_the_whole_process_group_stops_a_fit_with_workers_as_one(
    tmp_path: Path, signum: signal.Signals
) -> None:
    """As a terminal's Ctrl-C, Slurm's scancel or systemctl stop send it: the workers were killed by it, and the
    fit ended in a traceback, unsaved (or, Ctrl-C, each worker printed the stop's line)."""
    logs, marker = tmp_path / "logs", tmp_path / "paused"
    args = ["fit", *TINY, f"--trainer.logger.init_args.save_dir={logs}", "--data.num_workers=1"]
    stopped = stopped_as_a_group([*args, *pause_at(marker, epoch=0, batch=3)], tmp_path, marker, signum)
    stderr = stopped.stderr
    assert stopped.returncode == 1 and "Traceback" not in stderr, stderr[-3000:]
    assert " in epoch 0 at step 4; checkpointed there: resume with " in stderr.strip().splitlines()[-1]
    assert stderr.count("Ctrl-C: stopping") == (signum == signal.SIGINT)


@pytest.mark.slow  # a message's check, one more fit in a process of its own
@pytest.mark.parametrize(
    "option, said",
    [
        # It said "nothing to resume, run it again", with an epoch's best.ckpt in the run.
        (
            "--checkpoint.save_last=false",
            "no last.ckpt to resume from (--checkpoint.save_last false); its best checkpoint is {run}/checkpoints/"
            "best.ckpt",
        ),
        # Its resume line named a last.ckpt of the weights alone, which a fit refuses to resume from.
        (
            "--checkpoint.save_weights_only=true",
            "its checkpoints hold the weights alone (--checkpoint.save_weights_only), which no fit resumes: test one "
            "with python -m mnist_pl test --config {run}/config.yaml --ckpt_path {run}/checkpoints/best.ckpt",
        ),
    ],
    ids=["no last.ckpt", "weights only"],
)
def test_a_fit_with_no_checkpoint_to_resume_stopped_by_a_signal_says_so(tmp_path: Path, option: str, said: str) -> None:
    logs, marker = tmp_path / "logs", tmp_path / "paused"
    args = [option, "--trainer.max_epochs=2", *pause_at(marker, epoch=1, batch=1)]
    proc = popen_fit(tmp_path, f"--trainer.logger.init_args.save_dir={logs}", *args)
    last = signal_when_paused(proc, marker, signal.SIGTERM).strip().splitlines()[-1]
    run = logs / "lenet" / "version_0"
    assert proc.returncode == 1 and (run / "checkpoints" / "best.ckpt").is_file()
    assert last == f"error: fit: stopped by SIGTERM in epoch 1 at step 7: {said.format(run=run)}"


@pytest.mark.slow  # three fits; the default suite has test_a_fit_cut_by_max_steps_resumes_with_the_next_epoch_whole
def test_a_step_limited_fit_stopped_by_a_signal_resumes_with_its_resume_line(tmp_path: Path) -> None:
    """The command its stop printed was refused: --trainer.max_steps with --ckpt_path (Lightning runs a finished
    epoch again, which a checkpoint from the middle of one is not)."""
    steps = ["--trainer.max_epochs=5", "--trainer.max_steps=12"]
    reference = fit(tmp_path / "one_go", *steps, here=True)
    assert reference.returncode == 0, reference.stderr[-3000:]
    logs, marker = tmp_path / "logs", tmp_path / "paused"
    proc = popen_fit(tmp_path, f"--trainer.logger.init_args.save_dir={logs}", *steps, *pause_at(marker, 1, 3))
    last = signal_when_paused(proc, marker, signal.SIGTERM).strip().splitlines()[-1]
    assert " in epoch 1 at step 9; checkpointed there: resume with " in last
    resumed = run_main(*re.search(r"resume with python -m mnist_pl (fit .*)$", last).group(1).split(), cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    a = torch.load(tmp_path / "one_go" / "lenet" / "version_0" / "checkpoints" / "last.ckpt", weights_only=True)
    b = torch.load(logs / "lenet" / "version_0" / "checkpoints" / "last.ckpt", weights_only=True)
    for key in ("epoch", "global_step", "state_dict", "optimizer_states", "lr_schedulers"):
        assert_equal(a[key], b[key], key)


def test_a_first_ctrl_c_stops_a_fit_after_its_batch_checkpointed_there(tmp_path: Path) -> None:
    # In this process, a Ctrl-C from a thread once the fit holds in epoch 1: a second or so. The
    # slow Ctrl-C checks resume from such a stop, and stop a fit with a second Ctrl-C.
    logs, marker = tmp_path / "logs", tmp_path / "paused"
    with signalled_here_when_paused(marker, signal.SIGINT):
        stopped = fit(logs, "--trainer.max_epochs=2", *pause_at(marker, epoch=1, batch=2), here=True)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # given back after the fit
    assert stopped.returncode == 1, stopped.stderr[-3000:]
    assert "\nCtrl-C: stopping after this batch (Ctrl-C again: at once)\n" in stopped.stderr
    last = stopped.stderr.strip().splitlines()[-1]
    assert last.startswith("error: fit: stopped by Ctrl-C in epoch 1 at step 8; checkpointed there: resume with ")
    checkpoint = torch.load(logs / "lenet" / "version_0" / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["global_step"] == 8


@pytest.mark.parametrize(
    ("signum", "every", "stop", "validations", "stage"),
    [
        # At the epoch's end, all of it checkpointed (it said "in epoch 1"); Ctrl-C's message as SIGTERM's.
        (signal.SIGTERM, [], "after epoch 0 at step 5", 2, "validate"),
        pytest.param(signal.SIGINT, [], "after epoch 0 at step 5", 2, "validate", marks=pytest.mark.slow),
        pytest.param(  # after batch 2 of 5: the batch-before case below stops there too
            signal.SIGTERM,
            ["--trainer.val_check_interval=2"],
            "in epoch 0 at step 2",
            4,
            "validate",
            marks=pytest.mark.slow,
        ),
        # In the batch that validation follows: checkpointed before it, the resume skipped it (3 points of 4).
        pytest.param(
            signal.SIGTERM,
            ["--trainer.val_check_interval=2"],
            "in epoch 0 at step 2",
            4,
            "train",
            marks=pytest.mark.slow,
        ),
        # The same where Lightning keeps its checkpoints at the epoch's end: none was written.
        pytest.param(
            signal.SIGTERM,
            ["--trainer.val_check_interval=2", "--checkpoint.save_on_train_epoch_end=true"],
            "in epoch 0 at step 2",
            4,
            "train",
            marks=pytest.mark.slow,
        ),
        # After a batch of gradients accumulated for the next step: stopped at the validation's end, its checkpoint
        # (step 1) had them in no state, and the resume trained on without them (a review). Held to that step.
        (
            signal.SIGTERM,
            ["--trainer.accumulate_grad_batches=2", "--trainer.val_check_interval=3"],
            "in epoch 0 at step 2",
            2,
            "validate",
        ),
    ],
    ids=[
        "SIGTERM",
        "Ctrl-C",
        "SIGTERM-inside-an-epoch",
        "SIGTERM-in-the-batch-before",
        "SIGTERM-kept-at-epoch-end",
        "SIGTERM-after-an-accumulated-batch",
    ],
)
def test_a_stop_during_a_validation_waits_for_its_end_and_the_resume_is_exact(
    tmp_path: Path, signum: signal.Signals, every: list[str], stop: str, validations: int, stage: str
) -> None:
    # Lightning stopped in the validation, before any checkpoint of the batches it validates (at the
    # epoch's end: the whole epoch). Signalled in this process, in a validation's first batch of two.
    one_go = fit(tmp_path / "one_go", "--trainer.max_epochs=2", *every, here=True)
    assert one_go.returncode == 0, one_go.stderr[-3000:]
    logs, marker = tmp_path / "logs", tmp_path / "paused"
    with signalled_here_when_paused(marker, signum):
        pause = pause_at(marker, epoch=0, batch=0 if stage == "validate" else 1, stage=stage)
        stopped = fit(logs, "--trainer.max_epochs=2", *every, *pause, here=True)
    assert stopped.returncode == 1, stopped.stderr[-3000:]
    if signum == signal.SIGINT:
        assert "\nCtrl-C: stopping after this validation (Ctrl-C again: at once)\n" in stopped.stderr
    last = stopped.stderr.strip().splitlines()[-1]
    assert f" {stop}; checkpointed there: resume with " in last
    run = logs / "lenet" / "version_0"
    ((_, acc),) = scalars(run)["val/acc"]  # the validation it stopped in or after, whole, and in its checkpoint
    held = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]["val_acc_best.max_value"]
    assert held.item() == pytest.approx(acc)
    # Ranked at the validation (at the epoch's end only, where Lightning keeps its checkpoints there).
    assert (run / "checkpoints" / "best.ckpt").is_file() != ("--checkpoint.save_on_train_epoch_end=true" in every)

    command = re.search(r"resume with python -m mnist_pl (fit .*)$", last).group(1).split()
    resumed = run_main(*command, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert_same_run(tmp_path / "one_go" / "lenet" / "version_0", run, validations)


def test_a_signal_in_the_validation_of_a_stop_inside_an_epoch_keeps_its_steps(tmp_path: Path) -> None:
    """A stop inside an epoch (max_time's, an EarlyStopping's) validates there. A SIGTERM in that validation was
    left to the epoch's end, which Lightning never reaches after a signal: nothing saved, "nothing to resume"
    (a review: 279 steps of a max_time fit lost)."""
    logs, marker = tmp_path / "logs", tmp_path / "paused"
    stop = ["--trainer.callbacks+=stop_after.StopAfter", "--trainer.callbacks.steps=3"]
    with signalled_here_when_paused(marker, signal.SIGTERM):
        pause = pause_at(marker, epoch=0, batch=0, stage="validate")
        stopped = fit(logs, "--trainer.max_epochs=2", *stop, *pause, here=True)
    assert stopped.returncode == 1, stopped.stderr[-3000:]
    # The fit was ending there: nothing to resume.
    assert ", all of it checkpointed (" in stopped.stderr.strip().splitlines()[-1], stopped.stderr[-3000:]
    last = torch.load(logs / "lenet" / "version_0" / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["global_step"] == 3


def test_a_stop_after_the_last_epoch_says_there_is_nothing_to_resume(tmp_path: Path) -> None:
    """In the last epoch's validation: its resume line was refused ("has trained 1 epoch(s) already"), and
    the run had no curves.png."""
    logs, marker = tmp_path / "logs", tmp_path / "paused"
    said: list[str] = []  # Lightning's lines, which its handler wrote to the process's stderr, not this test's
    handler = logging.Handler()
    handler.emit = lambda record: said.append(record.getMessage())  # type: ignore[method-assign]
    logging.getLogger("lightning.pytorch.utilities.rank_zero").addHandler(handler)
    try:
        with signalled_here_when_paused(marker, signal.SIGTERM):
            pause = pause_at(marker, epoch=0, batch=0, stage="validate")
            stopped = fit(logs, "--trainer.max_epochs=1", PICTURES, *pause, here=True)
    finally:
        logging.getLogger("lightning.pytorch.utilities.rank_zero").removeHandler(handler)
    assert stopped.returncode == 1, stopped.stderr[-3000:]
    run = logs / "lenet" / "version_0"
    last, best = run / "checkpoints" / "last.ckpt", run / "checkpoints" / "best.ckpt"
    assert stopped.stderr.strip().splitlines()[-1] == (
        f"error: fit: stopped by SIGTERM after its last epoch, all of it checkpointed ({last}): nothing to resume; "
        f"test it with python -m mnist_pl test --config {run / 'config.yaml'} --ckpt_path {best}"
    )
    assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 5
    # Lightning logs it each time its loop's done is read: twice, for a fit that the signal stopped (an audit).
    assert not [line for line in said if line.startswith("`Trainer.fit` stopped")]
    # A whole run, which no resume would complete: its pictures too (it had none).
    assert (run / "curves.png").is_file() and (run / "confusion_matrix.png").is_file()


@pytest.mark.parametrize(
    ("stage", "signum"),
    [("train end", signal.SIGTERM), ("fit end", signal.SIGTERM), ("fit end", signal.SIGINT)],
    ids=["train end", "fit end", "fit end-Ctrl-C"],
)
def test_a_stop_as_the_fit_ends_stops_it_with_its_pictures_drawn(
    tmp_path: Path, stage: str, signum: signal.Signals
) -> None:
    """As the fit loop ends, after its last look for a stop, the signal was taken by none: the closing test
    ran, status 0. After Lightning's handlers are gone, as the run's pictures are drawn, the app's handler
    stopped it at once, as Lightning's KeyboardInterrupt, and the run had no curves.png nor
    confusion_matrix.png. A Ctrl-C there is the app's own handler's (a mutation audit: left unread, status 0)."""
    logs, marker = tmp_path / "logs", tmp_path / "paused"
    with signalled_here_when_paused(marker, signum):
        pause = pause_at(marker, epoch=1, batch=0, stage=stage)  # the epoch count once done
        stopped = fit(logs, "--trainer.max_epochs=1", PICTURES, *pause, here=True)
    assert stopped.returncode == 1, stopped.stderr[-3000:]
    run = logs / "lenet" / "version_0"
    last = run / "checkpoints" / "last.ckpt"
    said = stopped.stderr.strip().splitlines()[-1]
    by = "SIGTERM" if signum == signal.SIGTERM else "Ctrl-C"
    assert said.startswith(f"error: fit: stopped by {by} after its last epoch, all of it checkpointed ({last})"), said
    assert (run / "curves.png").is_file() and (run / "confusion_matrix.png").is_file()
    assert not (run / "results.json").exists()  # its closing test not run


@pytest.mark.slow  # a Ctrl-C check, as the others
def test_a_resume_stopped_before_its_first_step_keeps_the_config_its_resume_line_names(tmp_path: Path) -> None:
    # Stopped before its first step, the resume gave back its config.resume1.yaml, and the line said to use it.
    # A second Ctrl-C stops at once: in the pause, before the batch.
    logs, marker = tmp_path / "logs", tmp_path / "paused"
    assert fit(logs, "--trainer.max_epochs=1", here=True).returncode == 0
    run = logs / "lenet" / "version_0"
    proc = popen_fit(
        tmp_path,
        f"--trainer.logger.init_args.save_dir={logs}",
        "--trainer.max_epochs=2",
        f"--ckpt_path={run / 'checkpoints' / 'last.ckpt'}",
        *pause_at(marker, epoch=1, batch=0, stage="before train", until_interrupted=True),
    )
    last = signal_when_paused(proc, marker, signal.SIGINT, times=2).strip().splitlines()[-1]
    assert proc.returncode == 1 and "stopped by Ctrl-C in epoch 1 at step 5;" in last  # before its first step
    assert f"resume with python -m mnist_pl fit --config {run / 'config.resume1.yaml'} " in last
    assert (run / "config.resume1.yaml").is_file()


@pytest.mark.slow  # an edge of the default suite's checks: its time
@SIGNALS
@pytest.mark.parametrize("stage", ["setup", "sanity check"])
def test_a_signal_before_the_first_step_stops_the_fit_at_once_and_keeps_nothing(
    tmp_path: Path, signum: signal.Signals, stage: str
) -> None:
    # Paused in setup, before Lightning's handlers are in place (data set up, model built): SIGTERM
    # killed the process without a word, leaving a half-made run dir; Lightning's start cleared what a
    # first Ctrl-C had set, and the fit trained on to its end. In the sanity check (Lightning's handlers in
    # place), a Ctrl-C said "before an epoch ended: nothing to resume" (an audit), SIGTERM this line.
    logs, marker = tmp_path / "logs", tmp_path / "paused"
    proc = popen_fit(tmp_path, f"--trainer.logger.init_args.save_dir={logs}", *pause_at(marker, 0, 0, stage=stage))
    last = stopped_line(proc, marker, signum)
    assert last == f"error: fit: stopped by {SIGNAL_NAMES[signum]} before its first step, nothing kept: run it again"
    assert list(logs.glob("*/version_*")) == []


@pytest.mark.slow  # one more process run
def test_a_ctrl_c_while_the_cli_starts_ends_in_one_line(tmp_path: Path) -> None:
    # Settings read, classes built, no stage yet (nor Lightning's handlers, nor the app's): Python's
    # KeyboardInterrupt ended it in a 60-line traceback.
    logs, marker = tmp_path / "logs", tmp_path / "paused"
    proc = popen_fit(tmp_path, f"--trainer.logger.init_args.save_dir={logs}", *pause_at(marker, 0, 0, stage="built"))
    last = stopped_line(proc, marker, signal.SIGINT)
    assert last == "error: fit: stopped by Ctrl-C as it started, nothing written: run it again"
    assert not logs.exists()


@pytest.mark.slow  # one more process run
def test_a_rank_another_launcher_started_ends_by_a_signal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A DDP rank that SLURM or one's own script started (LOCAL_RANK 1, not a process of the app's) takes a SIGTERM as
    before: only those the app starts leave it to their rank 0. It went on into torch's rendezvous, and waited there
    with no rank 0 to end it (a review)."""
    monkeypatch.setenv("LOCAL_RANK", "1")
    logs, marker = tmp_path / "logs", tmp_path / "paused"
    proc = popen_fit(tmp_path, f"--trainer.logger.init_args.save_dir={logs}", *pause_at(marker, 0, 0, stage="built"))
    try:
        signal_when_paused(proc, marker, signal.SIGTERM)  # its pause is 60 s: ignored, it waited them out
    finally:
        proc.kill()
    assert proc.returncode == -signal.SIGTERM


@pytest.mark.slow  # a resume's case of the default suite's stop before the first step
def test_a_resume_stopped_by_sigterm_before_its_first_step_leaves_the_run_as_it_was(tmp_path: Path) -> None:
    # Killed there, it left its config.resume1.yaml and an event file in the run.
    logs, marker = tmp_path / "logs", tmp_path / "paused"
    assert fit(logs, "--trainer.max_epochs=1", here=True).returncode == 0
    run = logs / "lenet" / "version_0"
    files = {path: path.read_bytes() for path in run.rglob("*") if path.is_file()}
    proc = popen_fit(
        tmp_path,
        f"--trainer.logger.init_args.save_dir={logs}",
        "--trainer.max_epochs=2",
        f"--ckpt_path={run / 'checkpoints' / 'last.ckpt'}",
        *pause_at(marker, 0, 0, stage="setup"),
    )
    last = stopped_line(proc, marker, signal.SIGTERM)
    assert last == "error: fit: stopped by SIGTERM before its first step, nothing kept: run it again"
    assert {path: path.read_bytes() for path in run.rglob("*") if path.is_file()} == files


def test_under_ddp_a_first_ctrl_c_is_lightnings_and_the_next_are_ignored() -> None:
    """Lightning ignores later Ctrl-Cs only once its handler runs, after the interrupt has unwound the loops: three
    sent at once to a DDP fit with a data worker hung it in 1 stop of 10 (a KeyboardInterrupt inside Lightning's
    handler, rank 1 in a broadcast for good)."""
    trainer = L.Trainer(strategy="ddp", devices=2, accelerator="cpu", logger=False)  # its processes start in fit

    def stopped(by: str) -> BaseException:
        raise AssertionError(by)  # before Lightning's handlers: not this handler's

    with signals.CtrlCOnceUnderDdp(trainer, stopped):
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        signal.raise_signal(signal.SIGINT)  # ignored
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with signals.CtrlCOnceUnderDdp(L.Trainer(logger=False), stopped):  # one process: the app's CtrlCAsSigterm's
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@SIGNALS
# Both end in signals.evaluate: the default suite stops a predict, whose loop the app stops itself.
# "setup": before Lightning's handlers are in place, where SIGTERM killed the process and left its run dir.
@pytest.mark.parametrize(
    "stage, pause",
    [
        pytest.param("test", "test", marks=pytest.mark.slow),
        ("predict", "predict"),
        pytest.param("predict", "setup", marks=pytest.mark.slow),  # the handler a fit's start-up test uses too
    ],
)
def test_signal_during_a_test_or_predict_stops_in_one_line_and_leaves_nothing(
    trained_run: Path, tmp_path: Path, signum: signal.Signals, stage: str, pause: str
) -> None:
    # Lightning exits with status 0 after SIGTERM in a test, without a word, and does not stop a
    # predict for it; both left a run dir, and predict the folder it made for its CSV.
    marker, logs, output = tmp_path / "paused", tmp_path / "logs", tmp_path / "out" / "p.csv"
    proc = popen_cli(
        tmp_path,
        stage,
        f"--ckpt_path={trained_run / 'checkpoints' / 'best.ckpt'}",
        f"--data.data_dir={REPO / 'data'}",
        "--data.eval_batch_size=100",
        f"--trainer.limit_{stage}_batches=3",
        f"--trainer.logger.init_args.save_dir={logs}",
        *pause_at(marker, epoch=0, batch=0, stage=pause),
        *([f"--predictions.output={output}"] if stage == "predict" else []),
    )
    last = stopped_line(proc, marker, signum)
    assert last == f"error: {stage}: stopped by {SIGNAL_NAMES[signum]} before it ended, with no results: run it again"
    assert list(logs.glob("*/version_*")) == []
    assert not output.parent.exists()


def test_fast_dev_run_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Lightning's ModelCheckpoint writes last.ckpt at the end of any fit, into ./checkpoints/ here.
    monkeypatch.chdir(tmp_path)
    cli = MNISTCLI(args=["fit", *TINY, "--trainer.fast_dev_run=true", "--test_after_fit=true"])
    assert cli.trainer.global_step == 1 and "test/acc" in cli.trainer.callback_metrics
    assert list(tmp_path.iterdir()) == []
    # But for a predict's CSV, its output, where it runs: Lightning's stand-in logger has no folder (a TypeError).
    MNISTCLI(args=["predict", f"--data.data_dir={REPO / 'data'}", "--trainer.fast_dev_run=true"])
    assert [p.name for p in tmp_path.iterdir()] == ["predictions.csv"]


def test_a_log_folder_of_tilde_or_variable_is_the_one_lightning_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TensorBoardLogger expands ~ and $VAR in its log_dir only: the app claimed a version under a
    folder named "~" in the current one and put the checkpoints there, and a run that failed in
    another folder removed the expanded dir: another run's."""
    home, first, second = tmp_path / "home", tmp_path / "a", tmp_path / "b"
    for folder in (home, first, second):
        folder.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("RUNS", str(home / "runs"))
    result = run_main("fit", *TINY, "--trainer.max_epochs=1", "--trainer.logger.init_args.save_dir=~/runs", cwd=first)
    assert result.returncode == 0, result.stderr[-3000:]
    run = home / "runs" / "lenet" / "version_0"
    assert {"best.ckpt", "last.ckpt"} <= {p.name for p in (run / "checkpoints").iterdir()}
    assert list(first.iterdir()) == []
    before = files(run)
    # Fails once its run dir is claimed (FashionMNIST's files are not there): it gives back its own dir only.
    missing = ["--data.dataset=FashionMNIST", "--data.download=false", f"--data.data_dir={tmp_path / 'none'}"]
    logger = ["--trainer.logger.init_args.save_dir=$RUNS", "--trainer.logger.init_args.name=lenet"]
    result = run_main("validate", *missing, *logger, cwd=second)
    assert result.returncode == 1 and "FashionMNIST/raw" in result.stderr.splitlines()[-1], result.stderr[-3000:]
    assert files(run) == before and sorted(p.name for p in run.parent.iterdir()) == ["version_0"]
    assert list(second.iterdir()) == []


@pytest.mark.parametrize(
    "option, folder",
    [
        ("trainer.logger.init_args.save_dir", "$NO_SUCH_VAR/runs"),
        ("trainer.logger.init_args.save_dir", "${NO_SUCH_VAR}"),
        ("checkpoint.dirpath", "$NO_SUCH_VAR/checkpoints"),
        ("data.data_dir", "$NO_SUCH_VAR/data"),  # a folder "$NO_SUCH_VAR" made, and MNIST downloaded into it
    ],
)
def test_a_folder_of_an_unset_variable_is_refused(option: str, folder: str, tmp_path: Path) -> None:
    """It stayed as written: the runs went to a folder named "$NO_SUCH_VAR" in the current one."""
    result = run_main("fit", *TINY, f"--{option}={folder}", cwd=tmp_path)
    unset = folder.split("/")[0]
    expected = f"--{option} {folder}: {unset} is not set: set it, or give the folder itself"
    assert result.returncode != 0 and result.stderr.splitlines()[-1].endswith(expected), result.stderr[-3000:]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "option", ["trainer.logger.init_args.save_dir", "checkpoint.dirpath", "data.data_dir", "ckpt_path"]
)
def test_a_path_under_the_home_of_no_such_user_is_refused(option: str, tmp_path: Path) -> None:
    """The runs and checkpoints went to a folder named "~nosuchuser" in the current one (MNIST's a traceback)."""
    result = run_main("fit", *TINY, f"--{option}=~nosuchuser/x", cwd=tmp_path)
    expected = f"--{option} ~nosuchuser/x: ~nosuchuser is no user's home folder here: check the path"
    assert result.returncode != 0 and result.stderr.splitlines()[-1].endswith(expected), result.stderr[-3000:]
    assert list(tmp_path.iterdir()) == []


def test_folders_of_an_unset_variable_that_predict_does_not_use_are_let_be(trained_run: Path, tmp_path: Path) -> None:
    """A config shared between machines: predict on one's own images reads no MNIST and writes no checkpoint."""
    dm = MNISTDataModule(data_dir=str(REPO / "data"))
    dm.setup("test")
    Image.fromarray(dm.test_set.images[0].numpy()).save(tmp_path / "seven.png")
    unused = ["--data.data_dir=$NO_SUCH_VAR/data", "--checkpoint.dirpath=$NO_SUCH_VAR/checkpoints"]
    result = run_main(
        "predict",
        f"--ckpt_path={trained_run / 'checkpoints' / 'best.ckpt'}",
        f"--data.predict_path={tmp_path / 'seven.png'}",
        f"--predictions.output={tmp_path / 'p.csv'}",
        *unused,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "p.csv").is_file() and not any("NO_SUCH_VAR" in str(p) for p in tmp_path.rglob("*"))
    assert f"1 prediction written to {tmp_path / 'p.csv'}" in result.stdout.splitlines()  # was "1 predictions"


def test_checkpoint_and_data_folders_of_a_variable_are_the_ones_they_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lightning expands a checkpoint folder's ~ but not its $VAR, torchvision a data folder's ~ only: a config's
    `dirpath: $SCRATCH/checkpoints` wrote them to a folder named "$SCRATCH" in the current one."""
    (tmp_path / "here").mkdir()
    monkeypatch.setenv("SCRATCH", str(tmp_path / "scratch"))
    monkeypatch.setenv("DATASETS", str(REPO))
    logs = f"--trainer.logger.init_args.save_dir={tmp_path / 'logs'}"
    args = ["--checkpoint.dirpath=$SCRATCH/checkpoints", "--data.data_dir=$DATASETS/data", "--trainer.max_steps=1"]
    args += ["--test_after_fit=false", logs]
    result = run_main("fit", *TINY, *args, cwd=tmp_path / "here")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "last.ckpt" in {p.name for p in (tmp_path / "scratch" / "checkpoints").iterdir()}
    assert list((tmp_path / "here").iterdir()) == []


def test_predict_paths_of_a_variable_are_the_ones_they_name(
    trained_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A config's `ckpt_path: $RUNS/best.ckpt` was "no such file", its `output: $OUT/p.csv` was written
    under a folder named "$OUT" in the current one, and `predict_path: $DIGITS/*.png` matched nothing."""
    runs, out, digits, here = (tmp_path / name for name in ("runs", "out", "digits", "here"))
    for folder in (runs, digits, here):
        folder.mkdir()
    (runs / "best.ckpt").write_bytes((trained_run / "checkpoints" / "best.ckpt").read_bytes())
    dm = MNISTDataModule(data_dir=str(REPO / "data"))
    dm.setup("test")
    for i in range(3):
        Image.fromarray(dm.test_set.images[i].numpy()).save(digits / f"{i}.png")
    for name, folder in (("RUNS", runs), ("OUT", out), ("DIGITS", digits)):
        monkeypatch.setenv(name, str(folder))
    config = tmp_path / "predict.yaml"
    settings = ["ckpt_path: $RUNS/best.ckpt", "predictions:", "  output: $OUT/p.csv", "data:"]
    config.write_text("\n".join([*settings, "  predict_path: $DIGITS/*.png"]))
    result = run_main("predict", f"--config={config}", f"--trainer.logger.init_args.save_dir={runs}", cwd=here)
    assert result.returncode == 0, result.stderr[-3000:]
    assert len((out / "p.csv").read_text().splitlines()) == 4 and list(here.iterdir()) == []


@pytest.mark.parametrize(
    "option, path, thing",
    [
        ("ckpt_path", "$NO_SUCH_VAR/best.ckpt", "file"),
        ("predictions.output", "${NO_SUCH_VAR}/p.csv", "file"),
        ("data.predict_path", "$NO_SUCH_VAR/*.png", "path"),
    ],
)
def test_a_predict_path_of_an_unset_variable_is_refused(
    trained_run: Path, option: str, path: str, thing: str, tmp_path: Path
) -> None:
    given = {
        "ckpt_path": str(trained_run / "checkpoints" / "best.ckpt"),
        "predictions.output": str(tmp_path / "p.csv"),
        "data.predict_path": str(REPO / "tests"),  # no images: a refusal of its own, were this one not first
    }
    given[option] = path
    result = run_main("predict", *(f"--{name}={value}" for name, value in given.items()), cwd=tmp_path)
    unset = path.split("/")[0]
    expected = f"--{option} {path}: {unset} is not set: set it, or give the {thing} itself"
    assert result.returncode != 0 and result.stderr.splitlines()[-1].endswith(expected), result.stderr[-3000:]
    assert list(tmp_path.iterdir()) == []


def test_a_log_folder_whose_name_has_a_dollar_is_taken_where_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder named with a $ that exists, or a variable whose value holds a $: taken as meant."""
    (tmp_path / "team$share").mkdir()
    monkeypatch.setenv("RUNS", str(tmp_path / "team$share"))
    for save_dir in ("team$share", "$RUNS"):
        result = run_main(
            "fit",
            *TINY,
            "--trainer.max_steps=1",
            f"--trainer.logger.init_args.save_dir={save_dir}",
            "--test_after_fit=false",
            cwd=tmp_path,
        )
        assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(p.name for p in (tmp_path / "team$share" / "lenet").iterdir()) == ["version_0", "version_1"]


def test_resume_last_with_no_run_is_a_user_error(tmp_path: Path) -> None:
    """In process (``python -m mnist_pl`` prints any UserError as one line: tests/test_cli.py)."""
    logs = f"--trainer.logger.init_args.save_dir={tmp_path / 'logs'}"
    with pytest.raises(UserError, match=r"^--ckpt_path last: no run under .*: train one first, or give a path$"):
        MNISTCLI(args=["fit", *TINY, logs, "--ckpt_path=last"])
    assert not (tmp_path / "logs" / "lenet" / "version_0").exists()


def files(run: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}


def test_resume_last_checks_the_model_settings_as_a_path_does(tmp_path: Path) -> None:
    logs = f"--trainer.logger.init_args.save_dir={tmp_path}"
    MNISTCLI(args=["fit", *TINY, logs, "--trainer.max_epochs=1"])
    (run,) = tmp_path.glob("*/version_0")
    before = files(run)
    more = ["--trainer.max_epochs=2", "--ckpt_path=last", "--model.optimizer.init_args.lr=0.5"]
    with pytest.raises(UserError, match=r"^--model.optimizer.init_args.lr 0.5: the checkpoint's model has 0.01,"):
        MNISTCLI(args=["fit", *TINY, logs, *more])
    assert files(run) == before


def test_a_resume_keeps_how_its_runs_checkpoints_are_kept(tmp_path: Path) -> None:
    """Another monitor's ModelCheckpoint is another callback to Lightning: it restored none of the run's
    bookkeeping, wrote best-v1.ckpt and last-v1.ckpt beside the run's, and a later resume read the old last.ckpt."""
    logs = f"--trainer.logger.init_args.save_dir={tmp_path}"
    MNISTCLI(args=["fit", *TINY, logs, "--trainer.max_epochs=1"])
    (run,) = tmp_path.glob("*/version_0")
    before = files(run)
    more = ["--trainer.max_epochs=2", "--ckpt_path=last", "--checkpoint.monitor=val/loss", "--checkpoint.mode=min"]
    expected = (
        "--checkpoint.monitor val/loss, --checkpoint.mode min: the run's checkpoints are kept by monitor val/acc, "
        "mode max, and so is its resume (Lightning would keep these apart, in best-v1.ckpt and last-v1.ckpt): "
        "leave the options out, or give those"
    )
    with pytest.raises(UserError, match=f"^{re.escape(expected)}$"):
        MNISTCLI(args=["fit", *TINY, logs, *more])
    assert files(run) == before


@pytest.mark.slow  # an edge of the default suite's checks: its time (the suite neared 5 minutes)
def test_a_resume_in_place_keeps_writing_last_ckpt(tmp_path: Path) -> None:
    """Resumed with --checkpoint.save_last false (an audit), the run's last.ckpt stayed at its first fit's end,
    while best.ckpt moved on: the next --ckpt_path last trained those epochs again from it and wrote their
    worse best.ckpt over the better one. A fork from the run (a new run) may leave last.ckpt out."""
    logs = f"--trainer.logger.init_args.save_dir={tmp_path}"
    MNISTCLI(args=["fit", *TINY, logs, "--trainer.max_epochs=1"])
    (run,) = tmp_path.glob("*/version_0")
    before = files(run)
    expected = (
        f"--checkpoint.save_last false: a resume of {run} keeps its last.ckpt up to date, which the next resume "
        "goes on from (else it went back to this resume's start, and wrote over its best.ckpt): leave the option out"
    )
    for last in ("last", str(run / "checkpoints" / "last.ckpt")):
        more = ["--trainer.max_epochs=2", f"--ckpt_path={last}", "--checkpoint.save_last=false"]
        with pytest.raises(UserError, match=f"^{re.escape(expected)}$"):
            MNISTCLI(args=["fit", *TINY, logs, *more])
        assert files(run) == before
    best = run / "checkpoints" / "best.ckpt"
    fork = ["--trainer.max_epochs=2", f"--ckpt_path={best}", "--checkpoint.save_last=false"]
    cli = MNISTCLI(args=["fit", *TINY, logs, *fork])
    assert Path(cli.trainer.log_dir) == run.with_name("version_1") and files(run) == before


def test_resume_last_with_a_runs_own_config_resumes_that_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    logs = f"--trainer.logger.init_args.save_dir={tmp_path}"
    for _ in range(2):
        MNISTCLI(args=["fit", *TINY, logs, "--trainer.max_epochs=1"])
    first = next(tmp_path.glob("*/version_0"))
    config = ["--config", str(first / "config.yaml")]  # the newest run is version_1
    cli = MNISTCLI(args=["fit", *config, logs, "--trainer.max_epochs=2", "--ckpt_path=last"])
    assert Path(cli.trainer.log_dir) == first and cli.trainer.global_step == 10
    assert cli.trainer.logger.version == 0  # the progress bar's v_num (it showed "on_0")
    # Named as its config was: relative (it was made absolute, in Lightning's line, the config and results).
    monkeypatch.chdir(tmp_path)
    config = ["--config", str((first / "config.yaml").relative_to(tmp_path))]
    cli = MNISTCLI(args=["fit", *config, logs, "--trainer.max_epochs=3", "--ckpt_path=last"])
    assert cli.config.fit.ckpt_path == str((first / "checkpoints" / "last.ckpt").relative_to(tmp_path))


def test_a_run_with_a_sub_dir_that_fails_as_it_starts_leaves_no_folder(tmp_path: Path) -> None:
    """The dir it claimed is version_0/tb: an empty version_0 stayed, and the next run was version_1 (a
    mutation audit)."""
    logs = f"--trainer.logger.init_args.save_dir={tmp_path / 'logs'}"
    result = run_main(
        "fit", *TINY, logs, "--trainer.logger.init_args.sub_dir=tb", "--trainer.val_check_interval=1000", cwd=tmp_path
    )
    assert result.returncode == 1 and "val_check_interval" in result.stderr.strip().splitlines()[-1], result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_stop_handler_leaves_sigterm_to_a_handler_already_there() -> None:
    """export's, the table's and the bench's: an ignored SIGTERM (a background job's) or the caller's own
    handler stays theirs (a mutation audit)."""
    before = signal.getsignal(signal.SIGTERM)
    try:
        for handler in (signal.SIG_IGN, lambda signum, frame: None):
            signal.signal(signal.SIGTERM, handler)
            with signals.stopped_in_one_line("export"):
                assert signal.getsignal(signal.SIGTERM) is handler
            assert signal.getsignal(signal.SIGTERM) is handler
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        with signals.stopped_in_one_line("export"):
            assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL  # its own, for one line
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    finally:
        signal.signal(signal.SIGTERM, before)


def test_a_stopped_fit_inside_the_table_is_the_tables_stop_and_a_program_ends_at_the_next_ctrl_c() -> None:
    """The table's (the bench's) fit stopped by its own handlers says the table stopped, not the fit's resume
    line; once a program's block has ended, Ctrl-C is the system's: at once (a mutation audit of each)."""
    stopped = pytest.raises(signals.InterruptedRunError, match=r"^table: stopped by SIGTERM before it ended")
    with stopped, signals.stopped_in_one_line("table"):
        raise signals.InterruptedRunError("fit: stopped by SIGTERM in epoch 0: resume with ...", "SIGTERM")
    before = signal.getsignal(signal.SIGINT)
    try:
        with signals.ctrl_c_at_once_after():
            assert signal.getsignal(signal.SIGINT) is before
        assert signal.getsignal(signal.SIGINT) is signal.SIG_DFL
    finally:
        signal.signal(signal.SIGINT, before)


@pytest.mark.slow  # an edge of the default suite's checks: its time
def test_a_run_with_a_sub_dir_resumes_itself_and_says_where_it_is(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """Its config is in version_0/tb, its checkpoints in version_0/checkpoints: --ckpt_path last with
    that config resumed the newest other run, writing into its dir, and the last line named version_0/tb."""
    logs = f"--trainer.logger.init_args.save_dir={tmp_path}"
    MNISTCLI(args=["fit", *TINY, logs, "--trainer.max_epochs=1", "--trainer.logger.init_args.sub_dir=tb"])
    MNISTCLI(args=["fit", *TINY, logs, "--trainer.max_epochs=1"])
    first, second = sorted(tmp_path.glob("*/version_*"))
    before = files(second)
    config = ["--config", str(first / "tb" / "config.yaml")]
    tested = ["--test_after_fit=true", "--trainer.limit_test_batches=2"]  # its results beside its config
    # The first fit tested nothing: the first resume's results are the run's results.json.
    for epochs, resume, results in ((2, 1, "results.json"), (3, 2, "results.resume2.json")):
        capsys.readouterr()
        cli = MNISTCLI(args=["fit", *config, logs, f"--trainer.max_epochs={epochs}", "--ckpt_path=last", *tested])
        assert Path(cli.trainer.log_dir) == first / "tb" and cli.trainer.global_step == 5 * epochs
        saved = capsys.readouterr().out.strip().splitlines()[-2]
        assert re.fullmatch(
            rf"Run saved in {first}: best\.ckpt \(val/acc \S+\), last\.ckpt, "
            rf"tb/config\.resume{resume}\.yaml, tb/{re.escape(results)}",
            saved,
        )
        results = json.loads((first / "tb" / results).read_text())
        assert results == {"ckpt_path": str(first / "checkpoints" / "best.ckpt"), "test/loss": ANY, "test/acc": ANY}
        assert results["test/acc"] == pytest.approx(cli.trainer.callback_metrics["test/acc"].item())
    assert files(second) == before
    assert sorted(p.name for p in (first / "tb").glob("config*.yaml")) == [
        "config.resume1.yaml",
        "config.resume2.yaml",
        "config.yaml",
    ]


@pytest.mark.slow  # an edge of the default suite's checks: its time (the suite neared 5 minutes)
def test_a_run_stopped_before_its_test_gets_its_results_json_from_the_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """A preempted run, resumed to its end, had a results.resume1.json alone: a script reading the run's
    results.json, as the README says, found none (an audit)."""
    logs = f"--trainer.logger.init_args.save_dir={tmp_path}"
    MNISTCLI(args=["fit", *TINY, logs, "--trainer.max_epochs=1"])  # as one stopped before its test: none
    (run,) = tmp_path.glob("*/version_0")
    tested = ["--test_after_fit=true", "--trainer.limit_test_batches=2"]
    capsys.readouterr()
    MNISTCLI(args=["fit", *TINY, logs, "--trainer.max_epochs=2", "--ckpt_path=last", *tested])
    assert capsys.readouterr().out.strip().splitlines()[-2].endswith(", config.resume1.yaml, results.json")
    assert json.loads((run / "results.json").read_text())["ckpt_path"] == str(run / "checkpoints" / "best.ckpt")
    assert not list(run.glob("results.resume*.json"))
    # Tested already, the run keeps its results.json, and a resume's go beside it (a mutation audit: written over
    # it, the new file was refused as there, after the whole fit).
    before = (run / "results.json").read_text()
    MNISTCLI(args=["fit", *TINY, logs, "--trainer.max_epochs=3", "--ckpt_path=last", *tested])
    assert (run / "results.json").read_text() == before and (run / "results.resume2.json").is_file()


def test_a_sub_dir_of_dot_is_the_run_dir(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    logs = f"--trainer.logger.init_args.save_dir={tmp_path}"
    cli = MNISTCLI(args=["fit", *TINY, logs, "--trainer.max_epochs=1", "--trainer.logger.init_args.sub_dir=."])
    (run,) = tmp_path.glob("*/version_0")
    assert Path(cli.trainer.log_dir) == run / "."
    assert capsys.readouterr().out.strip().splitlines()[-2].startswith(f"Run saved in {run}: best.ckpt")


def test_resume_last_with_a_runs_own_config_and_no_last_ckpt_touches_no_other_run(tmp_path: Path) -> None:
    # It resumed the newest other run with a last.ckpt, and wrote over that run's best.ckpt and pictures.
    logs = f"--trainer.logger.init_args.save_dir={tmp_path}"
    MNISTCLI(args=["fit", *TINY, logs, "--trainer.max_epochs=1"])
    MNISTCLI(args=["fit", *TINY, logs, "--trainer.max_epochs=1", "--checkpoint.save_last=false"])
    second = sorted(tmp_path.glob("*/version_*"))[1]
    before = files(tmp_path)
    config = ["--config", str(second / "config.yaml")]
    with pytest.raises(UserError, match=rf"^--ckpt_path last: {second} has no checkpoints/last\.ckpt"):
        MNISTCLI(args=["fit", *config, logs, "--trainer.max_epochs=2", "--ckpt_path=last"])
    assert files(tmp_path) == before


@pytest.mark.slow  # an edge of the default suite's checks: its time (the suite neared 5 minutes)
def test_a_run_of_a_chosen_version_resumes_with_its_resume_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """The resume line's command, and --ckpt_path last, were refused: the run's config.yaml was there."""
    logs = f"--trainer.logger.init_args.save_dir={tmp_path}"
    MNISTCLI(args=["fit", *TINY, logs, "--trainer.max_epochs=1", "--trainer.logger.init_args.version=mine"])
    (run,) = tmp_path.glob("*/mine")
    config = ["--config", str(run / "config.yaml")]
    cli = MNISTCLI(args=["fit", *config, "--trainer.max_epochs=2", f"--ckpt_path={run / 'checkpoints' / 'last.ckpt'}"])
    assert Path(cli.trainer.log_dir) == run and cli.trainer.global_step == 10
    assert capsys.readouterr().out.strip().splitlines()[-2].endswith(", last.ckpt, config.resume1.yaml")  # its own
    cli = MNISTCLI(args=["fit", *config, "--trainer.max_epochs=3", "--ckpt_path=last"])
    assert Path(cli.trainer.log_dir) == run and cli.trainer.global_step == 15
    configs = sorted(p.name for p in run.glob("config*.yaml"))
    assert configs == ["config.resume1.yaml", "config.resume2.yaml", "config.yaml"]


def test_resume_last_without_a_config_resumes_the_newest_run(tmp_path: Path) -> None:
    logs = f"--trainer.logger.init_args.save_dir={tmp_path}"
    for _ in range(2):
        MNISTCLI(args=["fit", *TINY, logs, "--trainer.max_epochs=1"])
    (newest,) = tmp_path.glob("*/version_1")
    cli = MNISTCLI(args=["fit", *TINY, logs, "--trainer.max_epochs=2", "--ckpt_path=last"])
    assert Path(cli.trainer.log_dir) == newest and cli.trainer.global_step == 10
    assert sorted(p.name for p in newest.parent.iterdir()) == ["version_0", "version_1"]


@pytest.mark.slow  # an edge of the default suite's checks: its time (the suite neared 5 minutes)
def test_a_csv_logged_run_resumes_in_a_new_dir_and_keeps_its_metrics(tmp_path: Path) -> None:
    # Lightning's CSV writer would start the run's metrics.csv afresh. The new run's metrics.csv holds
    # the run's rows up to its checkpoint, then its own: the file of a run never stopped.
    csv = ["--trainer.logger=lightning.pytorch.loggers.CSVLogger", f"--trainer.logger.init_args.save_dir={tmp_path}"]
    MNISTCLI(args=["fit", *TINY, *csv, "--trainer.max_epochs=1"])
    (run,) = tmp_path.glob("*/version_0")
    # Rows a killed run logged after its checkpoint (step 5: the epoch's 5 steps counted) are not carried on.
    steps = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["global_step"]
    with open(run / "metrics.csv", newline="") as file:
        *_, last = rows = list(csv_module.DictReader(file))
    with open(run / "metrics.csv", "a", newline="") as file:
        csv_module.DictWriter(file, fieldnames=list(rows[0])).writerows(
            [{**last, "step": steps}, {**last, "step": 10**4}]
        )
    before = files(run)
    cli = MNISTCLI(args=["fit", *TINY, *csv, "--trainer.max_epochs=2", "--ckpt_path=last"])
    assert files(run) == before
    resumed = run.parent / "version_1"
    assert Path(cli.trainer.log_dir) == resumed and cli.trainer.current_epoch == 2
    whole = tmp_path / "whole"
    MNISTCLI(args=["fit", *TINY, *csv, f"--trainer.logger.init_args.save_dir={whole}", "--trainer.max_epochs=2"])
    (never_stopped,) = whole.glob("*/version_0/metrics.csv")
    assert (resumed / "metrics.csv").read_text() == never_stopped.read_text()
    assert [len(points) for points in ImageLogger.curves(resumed).values()] == [2, 2, 2, 2]  # both epochs


def test_the_last_lines_name_a_second_loggers_own_folder(tmp_path: Path) -> None:
    # A CSVLogger added without a name writes in lightning_logs/version_0, which no line named.
    logs = tmp_path / "logs"
    second = ["--trainer.logger+=CSVLogger", f"--trainer.logger.save_dir={tmp_path / 'csv'}"]
    result = fit(logs, "--trainer.max_epochs=1", *second, here=True)
    csv = tmp_path / "csv" / "lightning_logs" / "version_0"
    assert result.returncode == 0 and (csv / "metrics.csv").is_file(), result.stderr[-2000:]
    assert f"Also logged by its CSVLogger in {csv}\n" in result.stdout
    alone = fit(logs, "--trainer.max_epochs=1", here=True)
    assert "Run saved in" in alone.stdout and "Also logged" not in alone.stdout


def test_a_csv_logged_run_of_a_chosen_version_is_not_resumed_in_its_dir(tmp_path: Path) -> None:
    # Its writer would start the run's metrics.csv afresh: it deleted it, then the resume was refused.
    csv = ["--trainer.logger=lightning.pytorch.loggers.CSVLogger", f"--trainer.logger.init_args.save_dir={tmp_path}"]
    MNISTCLI(args=["fit", *TINY, *csv, "--trainer.max_epochs=1", "--trainer.logger.init_args.version=mine"])
    (run,) = tmp_path.glob("*/mine")
    before = files(run)
    with pytest.raises(UserError, match=r"config\.yaml exists: an earlier run is there"):
        MNISTCLI(
            args=[
                "fit",
                *TINY,
                *csv,
                "--trainer.max_epochs=2",
                "--trainer.logger.init_args.version=mine",
                f"--ckpt_path={run / 'checkpoints' / 'last.ckpt'}",
            ]
        )
    assert files(run) == before


def test_a_csv_resume_from_a_run_whose_metrics_csv_is_unreadable_starts_at_the_checkpoint(
    tmp_path: Path, recwarn: Any
) -> None:
    csv = ["--trainer.logger=lightning.pytorch.loggers.CSVLogger", f"--trainer.logger.init_args.save_dir={tmp_path}"]
    MNISTCLI(args=["fit", *TINY, *csv, "--trainer.max_epochs=1"])
    (run,) = tmp_path.glob("*/version_0")
    (run / "metrics.csv").write_text("step,val/acc\nnot a step,0.5\n")
    MNISTCLI(args=["fit", *TINY, *csv, "--trainer.max_epochs=2", "--ckpt_path=last"])
    assert any("metrics.csv is not readable" in str(w.message) for w in recwarn)
    header, *rows = (run.parent / "version_1" / "metrics.csv").read_text().splitlines()
    step = header.split(",").index("step")
    assert min(int(row.split(",")[step]) for row in rows) == 5  # its own rows only: the checkpoint's step on


def test_tensorboard_and_csv_loggers_of_one_run_write_into_its_one_dir(tmp_path: Path, recwarn: Any) -> None:
    # Each logger picked its own next version: the CSV in version_1, beside the run in version_0. A
    # second TensorBoard logger keeps a dir of its own: two event files in one dir double every point.
    loggers = tmp_path / "loggers.yaml"
    loggers.write_text(
        "trainer:\n  logger:\n"
        + "".join(
            f"    - class_path: lightning.pytorch.loggers.{kind}\n"
            f"      init_args: {{save_dir: {tmp_path / 'logs'}, name: both}}\n"
            for kind in ("TensorBoardLogger", "CSVLogger", "TensorBoardLogger")
        )
    )
    MNISTCLI(args=["fit", *TINY, f"--config={loggers}", "--trainer.max_epochs=1"])
    run, second = tmp_path / "logs" / "both" / "version_0", tmp_path / "logs" / "both" / "version_1"
    assert (run / "metrics.csv").is_file() and len(list(run.glob("events.out.tfevents.*"))) == 1
    assert [p.name for p in second.iterdir() if p.name.startswith("events.")] and not (second / "metrics.csv").exists()
    assert not [w for w in recwarn if "exists and is not empty" in str(w.message)]  # the CSV writer's
    # Resumed as a CSV-logged run is: in a new dir, the run left as it was.
    before = files(run)
    cli = MNISTCLI(args=["fit", *TINY, f"--config={loggers}", "--trainer.max_epochs=2", "--ckpt_path=last"])
    assert files(run) == before and cli.trainer.current_epoch == 2
    assert Path(cli.trainer.ckpt_path) == run / "checkpoints" / "last.ckpt"  # the first logger's run
    assert (run.parent / "version_2" / "metrics.csv").is_file()


def test_a_one_cycle_run_resumed_for_more_epochs_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recwarn: pytest.WarningsRecorder
) -> None:
    logs = f"--trainer.logger.init_args.save_dir={tmp_path}"
    one_cycle = ["--model.scheduler=torch.optim.lr_scheduler.OneCycleLR", "--model.scheduler.max_lr=0.01"]
    MNISTCLI(args=["fit", *TINY, logs, *one_cycle, "--trainer.max_epochs=1"])
    (last,) = tmp_path.glob("*/version_0/checkpoints/last.ckpt")
    run = last.parents[1]
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    more = ["--trainer.max_epochs=2", f"--ckpt_path={last}", "--trainer.enable_progress_bar=true"]
    # As a terminal or `2>&1` shows it, the bar's stdout and the error's stderr in one stream: the bar's line,
    # left open, ran into the error line, which `grep '^error:'` then missed (an audit).
    monkeypatch.setattr(sys, "argv", ["mnist_pl", "fit", *TINY, logs, *one_cycle, *more])
    shown = io.StringIO()
    with contextlib.redirect_stdout(shown), contextlib.redirect_stderr(shown), pytest.raises(SystemExit, match="1"):
        main()
    assert "Training" in shown.getvalue()  # the bar drew
    # Its other setting (the bar) was warned of before the refusal, as kept in a config.resume1.yaml it removed.
    assert not [w for w in recwarn if "config.resume1.yaml" in str(w.message)]
    assert re.search(
        r"\nerror: --model.scheduler: .*OneCycleLR ends after 5 steps, this run takes 10: resume with", shown.getvalue()
    )
    # Nothing left in the run: a config.resume1.yaml, or an event file whose purge marker hides its later points.
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


def test_a_fit_from_best_ckpt_starts_a_new_run_and_leaves_the_old_one_as_it_was(tmp_path: Path) -> None:
    # mode min on val/acc: best.ckpt is an earlier epoch than last.ckpt
    logs = f"--trainer.logger.init_args.save_dir={tmp_path}"
    MNISTCLI(args=["fit", *TINY, PICTURES, logs, "--trainer.max_epochs=3", "--checkpoint.mode=min"])
    (old,) = tmp_path.glob("*/version_0")
    before = {p: p.read_bytes() for p in old.rglob("*") if p.is_file()}
    best = torch.load(old / "checkpoints" / "best.ckpt", weights_only=True)
    assert best["epoch"] < 2
    fork = ["fit", *TINY, PICTURES, logs, "--trainer.max_epochs=3", f"--ckpt_path={old / 'checkpoints' / 'best.ckpt'}"]
    with pytest.raises(ValueError, match="val_check_interval"):  # fails after the restore: its dir given back
        MNISTCLI(args=[*fork, "--trainer.val_check_interval=1000"])
    assert [p.name for p in old.parent.iterdir()] == ["version_0"]
    cli = MNISTCLI(args=fork)
    assert {p: p.read_bytes() for p in old.rglob("*") if p.is_file()} == before
    new = old.parent / "version_1"
    assert Path(cli.trainer.log_dir) == new and (new / "config.yaml").is_file()
    assert torch.load(new / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 15
    events = EventAccumulator(str(new)).Reload()
    assert min(s.step for s in events.Scalars("train/loss")) > best["global_step"]  # on from the checkpoint's step
    assert events.SummaryMetadata("_hparams_/experiment").plugin_data.plugin_name == "hparams"  # a run's own
    # Its first batch, though not the first of an epoch 0, at its step (at 0, before its curves' first point).
    assert [image.step for image in events.Images("train/images")] == [best["global_step"]]
    # A fork that never validates has no best of its own; Lightning kept the old run's best.ckpt as its best,
    # which the test after fit then tested.
    cli = MNISTCLI(args=[*fork, "--checkpoint.mode=min", "--trainer.limit_val_batches=0"])  # its state restored
    assert cli.trainer.checkpoint_callback.best_model_path == ""


@pytest.mark.slow  # an edge of the default suite's checks: its time (the suite neared 5 minutes)
def test_a_fork_has_a_best_of_its_own_and_a_resume_keeps_the_runs(tmp_path: Path) -> None:
    # val/acc_best is in the model's state_dict: a fork from another run's best.ckpt started with that
    # run's best, which its own epochs here cannot reach, and its best.ckpt (its own) disagreed with it.
    logs = f"--trainer.logger.init_args.save_dir={tmp_path}"
    MNISTCLI(args=["fit", *TINY, logs, "--trainer.max_epochs=1"])
    (checkpoints,) = tmp_path.glob("*/version_0/checkpoints")
    for name in ("best.ckpt", "last.ckpt"):
        state = torch.load(checkpoints / name, weights_only=True)
        state["state_dict"]["val_acc_best.max_value"] = torch.tensor(1.0)
        torch.save(state, checkpoints / name)
    fork = MNISTCLI(args=["fit", *TINY, logs, "--trainer.max_epochs=2", f"--ckpt_path={checkpoints / 'best.ckpt'}"])
    metrics = fork.trainer.callback_metrics
    assert metrics["val/acc_best"] == metrics["val/acc"] < 1  # its one validation
    resume = MNISTCLI(args=["fit", *TINY, logs, "--trainer.max_epochs=2", f"--ckpt_path={checkpoints / 'last.ckpt'}"])
    assert Path(resume.trainer.log_dir) == checkpoints.parent and resume.trainer.callback_metrics["val/acc_best"] == 1


@pytest.mark.slow  # an edge of the default suite's checks: its time (the suite neared 5 minutes)
def test_a_fit_from_a_checkpoint_kept_outside_any_run_is_a_new_run_with_its_own_pictures(tmp_path: Path) -> None:
    # Taken for a resume in place, because the folder above the checkpoint's held the logs: no HPARAMS, no grid.
    logs = f"--trainer.logger.init_args.save_dir={tmp_path / 'logs'}"
    MNISTCLI(args=["fit", *TINY, logs, "--trainer.max_epochs=1"])
    (last,) = tmp_path.glob("logs/*/version_0/checkpoints/last.ckpt")
    kept = tmp_path / "kept" / "epoch1.ckpt"
    kept.parent.mkdir()
    kept.write_bytes(last.read_bytes())
    cli = MNISTCLI(args=["fit", *TINY, PICTURES, logs, "--trainer.max_epochs=2", f"--ckpt_path={kept}"])
    assert Path(cli.trainer.log_dir).name == "version_1"
    events = EventAccumulator(cli.trainer.log_dir).Reload()
    assert events.SummaryMetadata("_hparams_/experiment").plugin_data.plugin_name == "hparams"
    assert "train/images" in events.Tags()["images"]


@pytest.mark.slow  # an edge of the default suite's checks: its time (a slower host took 302 s)
def test_a_fit_from_a_checkpoint_with_max_steps_is_refused(tmp_path: Path) -> None:
    # Lightning 2.6 ran the checkpoint's finished epoch again, without a batch, and logged a NaN loss for it.
    logs = f"--trainer.logger.init_args.save_dir={tmp_path}"
    MNISTCLI(args=["fit", *TINY, logs, "--trainer.max_epochs=1"])
    (run,) = tmp_path.glob("*/version_0")
    before = files(run)
    resume = ["fit", *TINY, logs, "--trainer.max_steps=8", f"--ckpt_path={run / 'checkpoints' / 'last.ckpt'}"]
    with pytest.raises(UserError, match=r"^--trainer.max_steps 8 with --ckpt_path: Lightning 2.6 resumes"):
        MNISTCLI(args=resume)
    assert files(run) == before and [p.name for p in run.parent.iterdir()] == ["version_0"]


class OtherFitWrites(L.Callback):
    """What another fit started a moment earlier writes into ``run_dir`` as this one sets up: its
    config (``config_name``) and its event file."""

    EVENTS = "events.out.tfevents.1796300000.otherhost.4242.0"

    def __init__(self, run_dir: str, config_name: str) -> None:
        self.run_dir, self.config_name = Path(run_dir), config_name

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        (self.run_dir / self.config_name).write_text("the other fit's config\n")
        (self.run_dir / self.EVENTS).write_bytes(b"the other fit's curves")


@pytest.mark.parametrize("chosen", [False, True], ids=["two resumes", "two fits of one chosen version"])
def test_a_fit_refused_by_another_at_once_leaves_that_ones_files(tmp_path: Path, chosen: bool) -> None:
    # The refused resume removed every file added to the run since it started: the other resume's
    # config.resume1.yaml and event file, its curves. A fit refused from a chosen version's dir left its
    # own empty event file beside the other fit's.
    logs = f"--trainer.logger.init_args.save_dir={tmp_path}"
    MNISTCLI(args=["fit", *TINY, logs, "--trainer.max_epochs=1"])
    (run,) = tmp_path.glob("*/version_0")
    if chosen:
        (run := run.parent / "version_7").mkdir()
        args, config, refused = ["--trainer.logger.init_args.version=7"], "config.yaml", "an earlier run is there"
    else:
        args, config, refused = ["--ckpt_path=last"], "config.resume1.yaml", "another fit is resuming this run"
    other = {"class_path": "test_runs.OtherFitWrites", "init_args": {"run_dir": str(run), "config_name": config}}
    before = files(run)
    with pytest.raises(UserError, match=refused):
        MNISTCLI(
            args=["fit", *TINY, logs, "--trainer.max_epochs=2", f"--trainer.callbacks+={json.dumps(other)}", *args]
        )
    written = {path.name: text for path, text in files(run).items() if path not in before}
    assert written == {config: b"the other fit's config\n", OtherFitWrites.EVENTS: b"the other fit's curves"}


def test_a_resume_of_a_run_that_a_fit_writes_is_refused(tmp_path: Path) -> None:
    # Two resumes at once (the resume line run twice, a preempted job started again while it still
    # ran) both trained into the run: two event files of the same steps, each one's last.ckpt over
    # the other's. A fit holds its run dir (an flock, which the system drops when the process ends).
    fcntl = pytest.importorskip("fcntl")
    logs = f"--trainer.logger.init_args.save_dir={tmp_path}"
    MNISTCLI(args=["fit", *TINY, logs, "--trainer.max_epochs=1"])
    (run,) = tmp_path.glob("*/version_0")
    before = files(run)
    held = os.open(run, os.O_RDONLY)  # as the other fit's process holds it
    try:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(UserError, match=rf"^{run}: another fit is writing this run: let it end, then resume"):
            MNISTCLI(args=["fit", *TINY, logs, "--trainer.max_epochs=2", "--ckpt_path=last"])
    finally:
        os.close(held)
    assert files(run) == before
    cli = MNISTCLI(args=["fit", *TINY, logs, "--trainer.max_epochs=2", "--ckpt_path=last"])  # once it has ended
    assert cli.trainer.current_epoch == 2 and Path(cli.trainer.log_dir) == run


def test_a_checkpoint_folder_that_another_fit_writes_is_refused(tmp_path: Path) -> None:
    """Two fits of one --checkpoint.dirpath started together (an audit, 3 s apart) both found it empty: both
    trained, and wrote best.ckpt, last.ckpt, best-v1.ckpt and last-v1.ckpt there. A fit holds it as its run dir."""
    fcntl = pytest.importorskip("fcntl")
    logs, folder = f"--trainer.logger.init_args.save_dir={tmp_path / 'logs'}", tmp_path / "checkpoints"
    args = ["fit", *TINY, logs, "--trainer.max_epochs=1", f"--checkpoint.dirpath={folder}"]
    folder.mkdir()
    held = os.open(folder, os.O_RDONLY)  # as the other fit's process holds it
    try:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        expected = f"--checkpoint.dirpath {folder}: another fit is writing its checkpoints there: let it end, or give "
        with pytest.raises(UserError, match=f"^{re.escape(expected)}another folder$"):
            MNISTCLI(args=args)
    finally:
        os.close(held)
    assert not list(folder.iterdir()) and not list(tmp_path.glob("logs/*/version_*"))  # its run dir given back
    cli = MNISTCLI(args=args)  # once the other has ended
    assert cli.trainer.current_epoch == 1 and (folder / "last.ckpt").is_file()
    # Its own config's --ckpt_path last: the reasons said for no checkpoints/last.ckpt in its run dir were not its.
    config = Path(cli.trainer.log_dir) / "config.yaml"
    with pytest.raises(UserError) as err:
        MNISTCLI(args=["fit", f"--config={config}", "--trainer.max_epochs=2", "--ckpt_path=last"])
    assert str(err.value) == (
        f"--ckpt_path last: {config.parent} keeps its checkpoints in {folder} (its --checkpoint.dirpath): give one "
        f"of them as --ckpt_path, such as {folder / 'last.ckpt'}"
    )


def test_a_checkpoint_folder_of_the_run_itself_or_in_a_recipes_folder_is_taken(tmp_path: Path) -> None:
    """A review: the run dir given as --checkpoint.dirpath was locked twice, and refused as written by another fit;
    a recipe's folder that held a dirpath's checkpoints/ was taken for a run, and every later fit refused."""
    logs = f"--trainer.logger.init_args.save_dir={tmp_path}"
    first = MNISTCLI(
        args=["fit", *TINY, logs, "--trainer.max_epochs=1", f"--checkpoint.dirpath={tmp_path}/lenet/checkpoints"]
    )
    assert (tmp_path / "lenet" / "checkpoints" / "last.ckpt").is_file() and first.trainer.logger.version == 0
    run = tmp_path / "lenet" / "mine"
    own = ["--trainer.logger.init_args.version=mine", f"--checkpoint.dirpath={run}"]
    second = MNISTCLI(args=["fit", *TINY, logs, "--trainer.max_epochs=1", *own])
    assert Path(second.trainer.log_dir) == run and (run / "last.ckpt").is_file()


class HeldWhileTraining(L.Callback):
    """Whether another process could have taken the run's version dir while this fit trained."""

    def __init__(self, run_dir: str) -> None:
        self.run_dir, self.free = run_dir, None

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        import fcntl

        probe = os.open(self.run_dir, os.O_RDONLY)
        try:
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
            self.free = True
        except BlockingIOError:
            self.free = False
        finally:
            os.close(probe)


def test_a_chosen_versions_new_dir_is_held_from_the_start(tmp_path: Path) -> None:
    # It was made inside the fit, after the lock was to be taken: a resume of it could train beside it.
    pytest.importorskip("fcntl")
    run = tmp_path / "lenet" / "version_7"
    probe = {"class_path": "test_runs.HeldWhileTraining", "init_args": {"run_dir": str(run)}}
    version = "--trainer.logger.init_args.version=7"
    args = ["fit", *TINY, f"--trainer.logger.init_args.save_dir={tmp_path}", version]
    cli = MNISTCLI(args=[*args, f"--trainer.callbacks+={json.dumps(probe)}"])
    (held,) = [c for c in cli.trainer.callbacks if isinstance(c, HeldWhileTraining)]
    assert held.free is False and (run / "config.yaml").is_file()


def test_a_filesystem_without_locks_trains_unheld_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # NFS without its lock daemon answers ENOLCK: every fit there ended in that OSError's traceback.
    fcntl = pytest.importorskip("fcntl")

    def no_locks(descriptor: int, operation: int) -> None:
        raise OSError(37, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    with pytest.warns(UserWarning, match=r"version_0: cannot be locked \(No locks available\): a fit writing it"):
        cli = MNISTCLI(args=["fit", *TINY, f"--trainer.logger.init_args.save_dir={tmp_path}", "--trainer.max_epochs=1"])
    assert cli.trainer.global_step == 5


class FailsInTest(L.Callback):
    def on_test_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        raise RuntimeError("the test failed")


def test_a_failed_test_after_a_fit_keeps_the_fits_config(tmp_path: Path) -> None:
    # The test after a fit that trained no step (refused since) took the fit's config.yaml for its own and removed it.
    logs = f"--trainer.logger.init_args.save_dir={tmp_path}"
    no_checkpoints = ["--checkpoint.save_top_k=0", "--checkpoint.save_last=false"]
    failing_test = ["--test_after_fit=true", "--trainer.callbacks+=test_runs.FailsInTest"]
    with pytest.raises(RuntimeError, match="the test failed"):
        MNISTCLI(args=["fit", *TINY, logs, *no_checkpoints, *failing_test])
    assert (tmp_path / "lenet" / "version_0" / "config.yaml").is_file()


def test_a_second_resume_of_a_run_at_once_is_told_so(tmp_path: Path) -> None:
    (tmp_path / "config.resume1.yaml").write_text("the other resume's config\n")
    save = SaveConfig(LightningArgumentParser(), Namespace(), config_filename="config.resume1.yaml")
    with pytest.raises(UserError, match=r"exists: another fit is resuming this run: let it end, then resume again$"):
        save.refuse_a_run_dir_in_use(tmp_path)


def test_a_version_dir_listed_as_free_by_two_fits_goes_to_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Two fits that list the folder at once both see version_0 free: the mkdir decides, and one of them goes on.
    assert claim_new_version(tmp_path) == 0
    monkeypatch.setattr(Path, "iterdir", lambda self: iter([]))  # the second fit listed it before the first made it
    assert claim_new_version(tmp_path) == 1


def test_a_new_version_comes_after_the_newest_not_in_a_gap(tmp_path: Path) -> None:
    """As TensorBoardLogger numbers them: deleted version_0 and version_2 stay free, so that the newest
    run is always the highest number (--ckpt_path last, TensorBoard's run list)."""
    for name in ("version_1", "version_3", "version_x", "other"):
        (tmp_path / name).mkdir()
    assert claim_new_version(tmp_path) == 4 and (tmp_path / "version_4").is_dir()


@pytest.mark.slow  # two fits in processes of their own, at once: 10 s of the suite's budget
def test_two_fits_started_together_get_two_runs(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    args = [
        f"--trainer.logger.init_args.save_dir={logs}",
        "--trainer.max_epochs=1",
        "--trainer.limit_train_batches=2",
        "--trainer.num_sanity_val_steps=0",
    ]
    procs = [popen_fit(tmp_path, *args) for _ in range(2)]
    for proc in procs:
        _, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, stderr[-3000:]
    runs = sorted(p.name for p in (logs / "lenet").iterdir())
    assert runs == ["version_0", "version_1"]
    for run in runs:
        files = {p.name for p in (logs / "lenet" / run).iterdir()}
        assert "config.yaml" in files and len([f for f in files if f.startswith("events.out")]) == 1
        assert {p.name for p in (logs / "lenet" / run / "checkpoints").iterdir()} == {"best.ckpt", "last.ckpt"}


def test_an_evaluation_of_a_runs_checkpoint_goes_into_that_run_at_the_checkpoints_step(
    trained_run: Path, tmp_path: Path
) -> None:
    # It made a run of its own beside the fits (logs/mnist/version_N), which said nothing of the
    # checkpoint it evaluated, its results at step 0, where the fit's curves start.
    run = tmp_path / "logs" / "lenet" / "version_0"
    shutil.copytree(trained_run, run)
    best = run / "checkpoints" / "best.ckpt"
    logs = f"--trainer.logger.init_args.save_dir={run.parents[1]}"
    common = [f"--ckpt_path={best}", f"--data.data_dir={REPO / 'data'}", logs]
    quick = ["--trainer.limit_val_batches=2", "--trainer.limit_test_batches=2", "--trainer.enable_progress_bar=false"]
    for stage in ("validate", "validate", "test"):
        result = run_main(stage, *common, *quick, cwd=tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.rstrip().endswith(f"are in {run / 'test_0'}: tensorboard --logdir {run.parents[1]}")
    assert sorted(p.name for p in run.parents[1].rglob("*") if p.is_dir() and "version" not in str(p)) == ["lenet"]
    fit = EventAccumulator(str(run))
    fit.Reload()
    for sub_run in ("validate_0", "validate_1"):
        validated = EventAccumulator(str(run / sub_run), size_guidance={"images": 0})
        validated.Reload()
        # The fit's last validation again: the same value, at the same step.
        assert [(p.step, p.value) for p in validated.Scalars("val/acc")] == [
            (p.step, p.value) for p in fit.Scalars("val/acc")[-1:]
        ]
        assert [image.step for image in validated.Images("val/confusion_matrix")] == [fit.Scalars("val/acc")[-1].step]
    # Its results for a script too, as logged: the event file needs TensorBoard's reader.
    tested = EventAccumulator(str(run / "test_0")).Reload()
    assert json.loads((run / "test_0" / "results.json").read_text()) == {
        "ckpt_path": str(best),
        "test/loss": tested.Scalars("test/loss")[0].value,
        "test/acc": tested.Scalars("test/acc")[0].value,
    }
    assert list(json.loads((run / "validate_1" / "results.json").read_text())) == ["ckpt_path", "val/loss", "val/acc"]
    # predict logs nothing: no event file, which TensorBoard listed as an empty run. Its CSV goes beside its
    # config (it went into the current folder, predictions-1.csv, -2, ... for every checkpoint predicted there).
    predict = run_main("predict", *common, "--trainer.limit_predict_batches=1", cwd=tmp_path)
    assert predict.returncode == 0, predict.stderr[-3000:]
    csv = run / "predict_0" / "predictions.csv"
    assert f"written to {csv}\n" in predict.stdout and len(csv.read_text().splitlines()) == 1 + 1000
    assert sorted(p.name for p in csv.parent.iterdir()) == ["config.yaml", "hparams.yaml", "predictions.csv"]
    assert not list(tmp_path.glob("*.csv"))
    # One that fails gives its folder back.
    (tmp_path / "notes.png").write_text("not a picture")
    failed = run_main("predict", *common, f"--data.predict_path={tmp_path / 'notes.png'}", cwd=tmp_path)
    assert failed.returncode == 1 and not (run / "predict_1").exists(), failed.stderr[-3000:]
    assert sorted(p.name for p in run.iterdir() if p.is_dir()) == [
        "checkpoints",
        "predict_0",
        "test_0",
        "validate_0",
        "validate_1",
    ]


def test_best_or_last_is_the_newest_of_the_recipes_runs_or_the_runs_own(trained_run: Path, tmp_path: Path) -> None:
    # Lightning's words for this process's own checkpoints, of which a new process has none: both
    # were refused, a path required.
    runs = tmp_path / "logs" / "lenet"
    for version in ("version_0", "version_1", "version_2"):
        shutil.copytree(trained_run, runs / version)
    for version, written in (("version_0", 2), ("version_1", 3), ("version_2", 1)):  # version_1's the newest
        for checkpoint in (runs / version / "checkpoints").iterdir():
            os.utime(checkpoint, (written, written))
    quick = [f"--data.data_dir={REPO / 'data'}", f"--trainer.logger.init_args.save_dir={runs.parent}"]
    quick += ["--trainer.limit_val_batches=1", "--trainer.limit_test_batches=1", "--trainer.enable_progress_bar=false"]
    test = run_main("test", f"--config={REPO / 'configs' / 'lenet.yaml'}", *quick, "--ckpt_path=best", cwd=tmp_path)
    assert test.returncode == 0, test.stderr[-3000:]
    assert test.stdout.rstrip().endswith(f"are in {runs / 'version_1' / 'test_0'}: tensorboard --logdir {runs.parent}")
    # With a run's own config, that run's, however old.
    own = f"--config={runs / 'version_0' / 'config.yaml'}"
    validate = run_main("validate", own, *quick, "--ckpt_path=last", cwd=tmp_path)
    assert validate.returncode == 0, validate.stderr[-3000:]
    assert sorted(str(p.relative_to(runs)) for p in runs.glob("*/*_0")) == ["version_0/validate_0", "version_1/test_0"]


@pytest.mark.slow  # an edge of the default suite's checks: its time (the suite neared 5 minutes)
def test_best_is_the_checkpoint_the_fit_ranked_best_whatever_its_name(tmp_path: Path) -> None:
    # By its name, --ckpt_path best took best.ckpt, which Lightning reuses for the next top-k checkpoint
    # (here the worse of two), and of a run of another --checkpoint.filename, another run's best.ckpt.
    logs = tmp_path / "logs"
    top_two = fit(logs, "--trainer.max_epochs=2", "--checkpoint.save_top_k=2", here=True)
    assert top_two.returncode == 0, top_two.stderr[-3000:]
    ranked = re.search(r"Run saved in \S+: (\S+) \(val/acc [0-9.]+\), (\S+) \(", top_two.stdout).groups()
    assert ranked == ("best-v1.ckpt", "best.ckpt")  # the second epoch's the better
    evaluate = [f"--config={REPO / 'configs' / 'lenet.yaml'}", f"--data.data_dir={REPO / 'data'}"]
    evaluate += [f"--trainer.logger.init_args.save_dir={logs}", "--trainer.limit_val_batches=2", "--ckpt_path=best"]
    run = logs / "lenet" / "version_0"
    validated = run_main("validate", *evaluate, cwd=tmp_path)
    assert validated.returncode == 0, validated.stderr[-3000:]
    fit_points = [(p.step, p.value) for p in EventAccumulator(str(run)).Reload().Scalars("val/acc")]
    validated = EventAccumulator(str(run / "validate_0")).Reload().Scalars("val/acc")
    assert [(p.step, p.value) for p in validated] == fit_points[1:]  # the second epoch's checkpoint, at its point
    named = fit(logs, "--checkpoint.auto_insert_metric_name=false", "--checkpoint.filename=epoch{epoch:02d}", here=True)
    assert named.returncode == 0, named.stderr[-3000:]
    validated = run_main("validate", *evaluate, cwd=tmp_path)
    assert validated.returncode == 0, validated.stderr[-3000:]
    folders = sorted(p.name for p in (logs / "lenet" / "version_1").iterdir() if p.is_dir())
    assert folders == ["checkpoints", "validate_0"]  # its epoch00.ckpt, the run's newest


@pytest.mark.slow  # an edge check, 4-6 s: the default suite's time
def test_best_of_a_named_run_ranked_by_its_loss_and_of_a_moved_weights_only_run(tmp_path: Path) -> None:
    # The run's config.yaml sits in its sub_dir, and said val/acc nowhere: refused as having no best. A
    # named version was no run to take, a moved run's own config took another run, and a weights-only
    # checkpoint, which keeps no bookkeeping, was refused.
    logs = tmp_path / "logs"
    by_loss = ["--checkpoint.monitor=val/loss", "--checkpoint.mode=min", "--checkpoint.save_top_k=2"]
    named = ["--trainer.logger.init_args.version=tried", "--trainer.logger.init_args.sub_dir=tb"]
    ranked = fit(logs, "--trainer.max_epochs=2", *by_loss, *named, here=True)
    assert ranked.returncode == 0, ranked.stderr[-3000:]
    best = re.search(r"Run saved in \S+: (\S+) \(val/loss", ranked.stdout)[1]
    evaluate = [f"--config={REPO / 'configs' / 'lenet.yaml'}", f"--data.data_dir={REPO / 'data'}"]
    evaluate += [f"--trainer.logger.init_args.save_dir={logs}", "--trainer.limit_val_batches=2", "--ckpt_path=best"]
    validated = run_main("validate", *evaluate, cwd=tmp_path)
    assert validated.returncode == 0, validated.stderr[-3000:]
    results = Path(re.search(r"Its results and pictures are in (\S+?):", validated.stdout)[1]) / "results.json"
    assert json.loads(results.read_text())["ckpt_path"] == str(logs / "lenet" / "tried" / "checkpoints" / best)
    weights_only = fit(logs, "--checkpoint.save_weights_only=true", here=True)
    assert weights_only.returncode == 0, weights_only.stderr[-3000:]
    trained = Path(re.search(r"Run saved in (\S+?):", weights_only.stdout)[1])  # version_0: the validate's
    moved = shutil.move(trained, tmp_path / "kept")
    own = [f"--config={moved / 'config.yaml'}", "--trainer.limit_test_batches=1", "--ckpt_path=best"]
    tested = run_main("test", *own, cwd=tmp_path)
    assert tested.returncode == 0, tested.stderr[-3000:]
    results = Path(re.search(r"Its results and pictures are in (\S+?):", tested.stdout)[1]) / "results.json"
    assert json.loads(results.read_text())["ckpt_path"] == str(moved / "checkpoints" / "best.ckpt")


def test_an_evaluation_of_another_checkpoint_makes_a_run_of_its_own(trained_run: Path, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    args = [f"--ckpt_path={trained_run / 'checkpoints' / 'best.ckpt'}", f"--data.data_dir={REPO / 'data'}"]
    quick = [f"--trainer.logger.init_args.save_dir={logs}", "--trainer.limit_test_batches=2"]
    result = run_main("test", *args, *quick, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.rstrip().endswith(f"are in {logs / 'mnist' / 'version_0'}: tensorboard --logdir {logs}")


@pytest.mark.parametrize(
    "case",
    [
        "a second CSVLogger",
        "a first CSVLogger",
        *(pytest.param(case, marks=pytest.mark.slow) for case in ("a second CSVLogger (test)", "a 2nd TB")),
    ],
)
def test_a_chosen_version_of_any_logger_where_a_run_logged_is_refused(tmp_path: Path, case: str) -> None:
    # Each went on without a word: the CSV writers replaced the earlier run's metrics.csv (with
    # Lightning's warning that it deleted it), the TensorBoard one added this run's curves to its run.
    logs, csv = tmp_path / "logs", tmp_path / "csv"
    second = ["--trainer.logger+=CSVLogger", f"--trainer.logger.save_dir={csv}"]
    MNISTCLI(args=["fit", *TINY, f"--trainer.logger.init_args.save_dir={logs}", "--trainer.max_epochs=1", *second])
    (run,) = logs.glob("*/version_0")
    earlier = csv / "lightning_logs" / "version_0"
    before = files(tmp_path)
    fit = ["fit", *TINY, f"--trainer.logger.init_args.save_dir={logs}", "--trainer.max_epochs=1"]
    test = ["test", *TEST_TINY]
    args, taken = {
        "a second CSVLogger": ([*fit, *second, "--trainer.logger.version=0"], earlier / "metrics.csv"),
        "a second CSVLogger (test)": (
            [*test, f"--ckpt_path={run / 'checkpoints' / 'best.ckpt'}", *second, "--trainer.logger.version=0"],
            earlier / "metrics.csv",
        ),
        "a first CSVLogger": (
            [
                *fit,
                "--trainer.logger=CSVLogger",
                f"--trainer.logger.init_args.save_dir={csv}",
                "--trainer.logger.init_args.name=lightning_logs",
                "--trainer.logger.init_args.version=0",
            ],
            earlier / "metrics.csv",
        ),
        "a 2nd TB": (
            [
                *fit,
                "--trainer.logger+=TensorBoardLogger",
                f"--trainer.logger.save_dir={logs}",
                "--trainer.logger.name=lenet",
                "--trainer.logger.version=0",
            ],
            sorted(run.glob("events.out.tfevents.*"))[0],
        ),
    }[case]
    with pytest.raises(UserError, match=rf"^{re.escape(str(taken))}: an earlier run's log, and this run's "):
        MNISTCLI(args=args)
    assert files(tmp_path) == before


@pytest.mark.slow  # an edge of the default suite's checks: its time (the suite neared 5 minutes)
def test_evaluating_a_named_run_with_its_own_config_goes_into_that_run(tmp_path: Path) -> None:
    # Its config.yaml names its version: refused ("config.yaml exists"), with a fix that named an option
    # the user had not typed.
    logs = f"--trainer.logger.init_args.save_dir={tmp_path}"
    MNISTCLI(args=["fit", *TINY, logs, "--trainer.max_epochs=1", "--trainer.logger.init_args.version=adamw"])
    (run,) = tmp_path.glob("*/adamw")
    before = files(run)
    config = ["--config", str(run / "config.yaml"), "--trainer.limit_test_batches=1"]
    cli = MNISTCLI(args=["test", *config, "--ckpt_path=best"])
    assert Path(cli.trainer.log_dir) == run / "test_0"
    assert {path: data for path, data in files(run).items() if "test_0" not in path.parts} == before
    with pytest.raises(UserError, match=r"config\.yaml exists: .* give it null \(a new version_N for every run\)"):
        MNISTCLI(args=["fit", *config, "--trainer.max_epochs=1"])  # a fit of it again: its own name is taken


def test_best_of_a_run_whose_last_ckpt_is_damaged_is_taken_from_an_older_checkpoint(tmp_path: Path) -> None:
    # The newest checkpoint's bookkeeping names the best: a truncated last.ckpt refused --ckpt_path best,
    # blaming a file the user had not given, while best.ckpt was whole.
    logs = f"--trainer.logger.init_args.save_dir={tmp_path}"
    MNISTCLI(args=["fit", *TINY, logs, "--trainer.max_epochs=1"])
    (run,) = tmp_path.glob("*/version_0")
    last = run / "checkpoints" / "last.ckpt"
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])
    os.utime(last, (time.time() + 10, time.time() + 10))  # the newest
    config = ["--config", str(run / "config.yaml"), "--trainer.limit_test_batches=1"]
    with pytest.warns(UserWarning, match=rf"{re.escape(str(last))} is not a readable checkpoint: .*best\.ckpt's"):
        cli = MNISTCLI(args=["test", *config, "--ckpt_path=best"])
    assert cli.trainer.ckpt_path == str(run / "checkpoints" / "best.ckpt")


@pytest.mark.slow  # an edge of the default suite's checks: its time (the suite neared 5 minutes)
def test_a_nested_version_name_groups_runs(tmp_path: Path) -> None:
    # Ended in a traceback as the fit started (FileNotFoundError: the folder above it was not made).
    logs = f"--trainer.logger.init_args.save_dir={tmp_path}"
    for lr in ("0.01", "0.02"):
        version = f"--trainer.logger.init_args.version=adam/lr_{lr}"
        cli = MNISTCLI(args=["fit", *TINY, logs, "--trainer.max_epochs=1", version])
        assert Path(cli.trainer.log_dir) == tmp_path / "lenet" / "adam" / f"lr_{lr}"
    assert sorted(p.parent.name for p in tmp_path.glob("lenet/adam/*/checkpoints")) == ["lr_0.01", "lr_0.02"]
    run = tmp_path / "lenet" / "adam" / "lr_0.01"  # resumed in place, as its resume line says
    cli = MNISTCLI(args=["fit", "--config", str(run / "config.yaml"), "--trainer.max_epochs=2", "--ckpt_path=last"])
    assert Path(cli.trainer.log_dir) == run and cli.trainer.global_step == 10
    assert (run / "config.resume1.yaml").is_file()
    # A resume in its dir adds no second HPARAMS entry or first-batch grid (ImageLogger's new run).
    assert not ImageLogger.starts_a_run(cli.trainer.logger, str(run / "checkpoints" / "last.ckpt"))
    other = tmp_path / "lenet" / "adam" / "lr_0.02"  # by its path alone, as a flat run's
    cli = MNISTCLI(
        args=["fit", *TINY, logs, "--trainer.max_epochs=2", f"--ckpt_path={other / 'checkpoints' / 'last.ckpt'}"]
    )
    assert Path(cli.trainer.log_dir) == other and cli.trainer.global_step == 10
    # Evaluated with its own config, or by its checkpoint's path alone: into the run, as a flat one's.
    cli = MNISTCLI(
        args=["test", "--config", str(run / "config.yaml"), "--trainer.limit_test_batches=1", "--ckpt_path=best"]
    )
    assert Path(cli.trainer.log_dir) == run / "test_0"
    best = str(run / "checkpoints" / "best.ckpt")
    cli = MNISTCLI(args=["test", *TEST_TINY, logs, f"--ckpt_path={best}"])
    assert Path(cli.trainer.log_dir) == run / "test_1"


def test_a_chosen_version_whose_first_start_failed_runs_when_given_again(tmp_path: Path) -> None:
    # Lightning's check of val_check_interval fails as the fit starts, after the logger wrote hparams.yaml:
    # the fit given again, mended, was refused ("an earlier run's log").
    logs = f"--trainer.logger.init_args.save_dir={tmp_path}"
    fit = ["fit", *TINY, logs, "--trainer.max_epochs=1", "--trainer.logger.init_args.version=mine"]
    with pytest.raises(ValueError, match="val_check_interval"):
        MNISTCLI(args=[*fit, "--trainer.val_check_interval=500"])
    cli = MNISTCLI(args=fit)
    assert Path(cli.trainer.log_dir) == tmp_path / "lenet" / "mine" and cli.trainer.global_step == 5


def test_a_checkpoint_copied_inside_a_run_resumes_as_a_new_run(tmp_path: Path) -> None:
    # By its path alone, it resumed "in place" into version_0/backup, over the copy's own checkpoints.
    logs = f"--trainer.logger.init_args.save_dir={tmp_path}"
    MNISTCLI(args=["fit", *TINY, logs, "--trainer.max_epochs=1"])
    (run,) = tmp_path.glob("*/version_0")
    shutil.copytree(run / "checkpoints", run / "backup" / "checkpoints")
    before = files(run)
    resume = f"--ckpt_path={run / 'backup' / 'checkpoints' / 'last.ckpt'}"
    cli = MNISTCLI(args=["fit", *TINY, logs, "--trainer.max_epochs=2", resume])
    assert Path(cli.trainer.log_dir) == run.parent / "version_1" and files(run) == before


def test_a_chosen_version_beside_a_checkpoints_folder_of_no_run_runs(tmp_path: Path) -> None:
    # The logger's own folder (an empty name: the save_dir) was taken for a run that held the new one.
    (tmp_path / "checkpoints").mkdir()
    logs = [f"--trainer.logger.init_args.save_dir={tmp_path}", "--trainer.logger.init_args.name="]
    cli = MNISTCLI(args=["fit", *TINY, *logs, "--trainer.max_epochs=1", "--trainer.logger.init_args.version=mine"])
    assert Path(cli.trainer.log_dir) == tmp_path / "mine"


def test_a_stop_whose_last_ckpt_was_never_written_has_nothing_to_resume(tmp_path: Path) -> None:
    """Lightning names last.ckpt before it writes it: a second Ctrl-C in the first one's write left none, and the
    stop's line ended in a FileNotFoundError traceback (a review)."""
    trainer = L.Trainer(logger=False, default_root_dir=tmp_path, enable_progress_bar=False)
    trainer.checkpoint_callback.last_model_path = str(tmp_path / "last.ckpt")  # named, not written
    said = signals.stopped_fit(trainer, "Ctrl-C")
    assert said == "fit: stopped by Ctrl-C before an epoch ended: nothing to resume, run it again"


def test_a_second_ctrl_c_as_the_stops_line_is_composed_leaves_the_line_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stop's line reads last.ckpt back for its step: a second Ctrl-C pressed then (30 ms after the first, in an
    audit) ended in a KeyboardInterrupt traceback, without the line. The stop is decided, and it ends within
    milliseconds: the line comes, and the handler before it is back."""
    trainer = L.Trainer(max_epochs=1, logger=False, default_root_dir=tmp_path, enable_progress_bar=False)
    trainer.checkpoint_callback.last_model_path = str(tmp_path / "last.ckpt")
    torch.save({"global_step": 0}, tmp_path / "last.ckpt")
    read = runs.checkpoint_step

    def pressed_again(ckpt_path: Path) -> int:
        os.kill(os.getpid(), signal.SIGINT)
        return read(ckpt_path)

    monkeypatch.setattr(runs, "checkpoint_step", pressed_again)
    said = signals.stopped_fit(trainer, "Ctrl-C")
    assert said.startswith("fit: stopped by Ctrl-C in epoch 0 at step 0; checkpointed there: resume with ")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_stop_past_the_last_checkpoint_says_which_steps_are_lost(tmp_path: Path) -> None:
    """A fit stopped at step 5 whose last.ckpt is of step 3 goes on from step 3 (a mutation audit: "checkpointed
    there", caught by a slow test alone)."""
    trainer = L.Trainer(max_epochs=1, logger=False, default_root_dir=tmp_path, enable_progress_bar=False)
    trainer.checkpoint_callback.last_model_path = str(tmp_path / "last.ckpt")
    torch.save({"global_step": 3}, tmp_path / "last.ckpt")
    trainer.fit_loop.epoch_loop.automatic_optimization.optim_progress.optimizer.step.total.completed = 5
    assert signals.stopped_fit(trainer, "SIGTERM").startswith(
        "fit: stopped by SIGTERM in epoch 0 at step 5; the steps after its last checkpoint (step 3) are lost: resume "
    )


@pytest.mark.slow  # a fresh process: 5 s
def test_a_ctrl_c_as_the_program_shuts_down_ends_it_at_once_without_a_traceback(tmp_path: Path) -> None:
    """After a stop's line, a second Ctrl-C landed in one of torch's atexit hooks: "Exception ignored in atexit
    callback" and a traceback (an audit: 1 double press in 8). The line has said what was kept: the process ends at
    once, as the first Ctrl-C's line promised ("Ctrl-C again: at once")."""
    command = [sys.executable, str(REPO / "tests" / "ctrl_c_at_exit.py"), "fit", "--trainer.max_epochs=0"]
    result = subprocess.run(command, cwd=tmp_path, env=child_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == -signal.SIGINT and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert result.stderr.endswith("--trainer.max_epochs 0: the fit would train nothing: give 1 or more\n")


def test_a_second_ctrl_c_is_at_once_where_lightning_put_the_first_ones_handler_back(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """Lightning's teardown puts back the handlers it found: a second Ctrl-C as the run's pictures were drawn was
    taken for a first, and swallowed; under DDP one more KeyboardInterrupt, a traceback (a review). The first
    promises no batch: none is left (a mutation audit: "stopping after this batch", and a stop flag set)."""
    trainer = L.Trainer(logger=False, default_root_dir=tmp_path, enable_progress_bar=False)
    ctrl_c = signals.CtrlCAsSigterm(trainer, lambda by: None)  # after the last step: the fit stops once drawn
    ctrl_c.handle(signal.SIGINT, None)
    assert ctrl_c.pressed and not trainer.received_sigterm and capsys.readouterr().err == ""
    with pytest.raises(KeyboardInterrupt):
        ctrl_c.handle(signal.SIGINT, None)
    once = signals.CtrlCOnceUnderDdp(trainer, lambda by: None)
    with pytest.raises(KeyboardInterrupt):
        once.handle(signal.SIGINT, None)
    once.handle(signal.SIGINT, None)  # ignored


def test_a_variable_ends_where_os_path_expandvars_ends_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """expandvars reads ASCII word characters alone: $RUNé is $RUN then é, which this check took for $RUNé,
    unset, and refused a path that expands (a review)."""
    monkeypatch.setenv("RUN", "/tmp/r")
    monkeypatch.delenv("RUNé", raising=False)
    assert os.path.expandvars("$RUNé/x") == "/tmp/ré/x"
    assert unset_variable("$RUNé/x") is None


def test_a_ctrl_c_while_the_settings_are_read_names_the_subcommand(monkeypatch: pytest.MonkeyPatch) -> None:
    """Before the settings were read, its line said "mnist_pl: stopped by Ctrl-C as it started" for a fit (an
    audit: a Ctrl-C 3 s in), where the docs and every other moment say "fit: ..."."""
    from mnist_pl.parser import MNISTArgumentParser

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(MNISTArgumentParser, "parse_args", interrupted)
    with pytest.raises(signals.InterruptedRunError, match=r"^fit: stopped by Ctrl-C as it started, nothing written"):
        MNISTCLI(args=["fit", "--config", str(REPO / "configs" / "lenet.yaml")])


def test_a_file_past_the_size_limit_says_to_raise_the_limit_a_full_disk_to_free_space() -> None:
    """Only slow tests reached the line (a mutation audit told a file-size limit to free some space)."""
    outside_a_fit = SimpleNamespace(subcommand="test", trainer=None, fit_ended=None)
    said = MNISTCLI._no_space_said(outside_a_fit, OSError(errno.EFBIG, "File too large", "x.ckpt"))
    assert said == (
        "test: x.ckpt: cannot be written (File too large): raise the limit on a file's size (ulimit -f), then run it "
        "again"
    )
    said = MNISTCLI._no_space_said(outside_a_fit, OSError(errno.ENOSPC, "No space left on device", "x.ckpt"))
    assert said == "test: x.ckpt: cannot be written (No space left on device): free some space, then run it again"


def test_a_stop_names_only_checkpoints_that_were_written(tmp_path: Path) -> None:
    """A fit stopped by the file-size limit in its first save said "no last.ckpt to resume from (--checkpoint.save_last
    false); its best checkpoint is .../best.ckpt": save_last was true, and that best.ckpt never written (an audit)."""
    trainer = L.Trainer(logger=False, default_root_dir=tmp_path, enable_progress_bar=False)
    checkpoint = trainer.checkpoint_callback
    checkpoint.save_last, checkpoint.best_model_path = True, str(tmp_path / "best.ckpt")  # named, not written
    said = signals.stopped_fit(trainer, "the size limit")
    assert said == "fit: stopped by the size limit before an epoch ended: nothing to resume, run it again"
    (tmp_path / "best.ckpt").touch()
    assert signals.stopped_fit(trainer, "Ctrl-C").endswith(
        f": no last.ckpt to resume from; its best checkpoint is {tmp_path / 'best.ckpt'}"
    )
    checkpoint.save_last = False
    assert signals.stopped_fit(trainer, "Ctrl-C").endswith(
        f": no last.ckpt to resume from (--checkpoint.save_last false); its best checkpoint is {tmp_path / 'best.ckpt'}"
    )
