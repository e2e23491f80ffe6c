"""Shared fixtures: the bundled MNIST, and a quick CLI runner; everything here is real."""

import contextlib
import functools
import io
import os
import re
import resource
import shutil
import signal
import struct
import subprocess
import sys
import time
import traceback
import warnings
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# pytest-xdist's workers are one process per core: one torch thread each (their subprocesses too)
# keeps them from fighting over the cores. On 2 cores the suite took 169 s so, against 235 s with
# two threads a worker and 272 s in one process (2026-12-02, Zen 4 EPYC).
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parents[1]
BUNDLED_RAW = REPO / "data" / "MNIST" / "raw"
GZ_FILES = sorted(p.name for p in BUNDLED_RAW.glob("*.gz"))

# A Trainer of Python's that writes nothing and prints no bar or summary.
QUIET = {"enable_checkpointing": False, "enable_progress_bar": False, "enable_model_summary": False}

# A short fit: enough steps to learn well past chance in a few seconds.
QUICK_FIT = [
    "--trainer.max_epochs=1",
    "--trainer.limit_train_batches=60",
    "--trainer.limit_val_batches=2",
    "--trainer.enable_progress_bar=false",
]


def printed(name: str, output: str) -> str:
    """A figure as Lightning's results table prints it: plain, or drawn by rich where it is installed."""
    return re.search(rf"{re.escape(name)}[\s│]+([0-9.]+)", output).group(1)


@pytest.fixture(scope="session", autouse=True)
def _unpacked_mnist() -> None:
    """The decompressed MNIST in data/, as a fresh clone's first run leaves it. Tests that read it with
    torchvision, or call setup() without prepare_data(), found it only where a test before them had: a
    fresh clone's ``pytest tests/test_images.py`` failed ("Dataset not found"). Safe on parallel workers:
    each file is written under a name of its own, then renamed."""
    from mnist_pl.data import ensure_files

    ensure_files(REPO / "data", download=False)


@pytest.fixture(autouse=True)
def _no_pytest_argv(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that build ``MNISTCLI(args=...)`` give it their whole command line: pytest's own options
    in ``sys.argv`` (``-k``, ``-x``) would make LightningCLI warn that both were given."""
    monkeypatch.setattr(sys, "argv", sys.argv[:1])


@pytest.fixture(autouse=True)
def _ctrl_c_as_in_a_terminal() -> Iterator[None]:
    """Ctrl-C is Python's KeyboardInterrupt in every test: a pytest started in the background (``pytest &`` in a
    script) inherits SIGINT ignored, and the app's Ctrl-C handlers rightly stay out of the way there, so the tests
    of Ctrl-C in this process saw nothing (2 failed in such a fresh clone)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.fixture
def gz_dir(tmp_path: Path) -> Path:
    """A data dir holding only copies of the bundled .gz files, as in a fresh clone."""
    raw = tmp_path / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in GZ_FILES:
        shutil.copy(BUNDLED_RAW / name, raw / name)
    return tmp_path / "data"


def child_env() -> dict[str, str]:
    """The environment of a test's own process: this checkout's mnist_pl, and the test helpers, importable.

    An interpreter whose editable install is another checkout's imported that one's code in the child.
    """
    paths = [str(REPO), str(REPO / "tests"), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def stopped_as_a_group(args: list[str], cwd: Path, marker: Path, signum: signal.Signals) -> subprocess.CompletedProcess:
    """``python -m mnist_pl ARGS`` in a process group of its own, ``signum`` sent to the whole group (as a
    terminal's Ctrl-C, SLURM's scancel or systemctl stop send it) once ``PauseForSignal`` holds it at
    ``marker``. A hang's processes are killed, not left behind."""
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    ctrl_c_on = functools.partial(signal.signal, signal.SIGINT, signal.SIG_DFL)  # a background job ignores it
    command = [sys.executable, "-m", "mnist_pl", *args]
    proc = subprocess.Popen(command, cwd=cwd, env=child_env(), start_new_session=True, preexec_fn=ctrl_c_on, **pipes)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.exists(), proc.communicate()[1][-3000:]
        os.killpg(proc.pid, signum)
        stdout, stderr = proc.communicate(timeout=180)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    return subprocess.CompletedProcess(command, proc.returncode, stdout, stderr)


def full_disk(size: int) -> Callable[[], None]:
    """For a child process: its files cut at ``size`` bytes, a write past it failing as on a full disk (EFBIG,
    "File too large", where ENOSPC would say "No space left on device"); no root needed to mount a small disk."""

    def limited() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # else the kernel ends the process
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))

    return limited


def flipped(data: bytes, record: str) -> bytes:
    """A checkpoint's bytes with 16 of one zip record's own (``data.pkl``, a tensor's ``4``) flipped: what torch.load
    reads without a word (it checks no CRC), from a weight record."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = next(info for info in archive.infolist() if Path(info.filename).name == record)
    name_length, extra_length = struct.unpack("<HH", data[info.header_offset + 26 : info.header_offset + 30])
    start = info.header_offset + 30 + name_length + extra_length  # past its local header: its own bytes
    return data[:start] + bytes(b ^ 0xFF for b in data[start : start + 16]) + data[start + 16 :]


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``python -m mnist_pl ARGS`` in a fresh process, as a user runs it (test helpers importable)."""
    env = child_env()
    return subprocess.run(
        [sys.executable, "-m", "mnist_pl", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


def run_main(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``python -m mnist_pl ARGS`` run by ``main()`` in this process: what ``run_cli`` gives, ~8 s sooner.

    Starting Python, torch and Lightning costs ~8 s a process on a 2-core CPU; tests of what the
    CLI does with its arguments need no new process. stderr and the exit status are what the
    interpreter makes of the run: the warnings (pytest would keep them), then a traceback and 1
    for an uncaught exception, or the error line and 1 for a mistake. Tests of the
    process itself (signals, DDP, concurrent runs, a checkpoint read by a process that did not
    write it) use ``run_cli``.
    """
    from mnist_pl.__main__ import main

    out, err = io.StringIO(), io.StringIO()
    code: int | str | None = 0
    failure = ""
    argv, here = sys.argv, Path.cwd()
    sys.argv = [str(REPO / "mnist_pl" / "__main__.py"), *args]
    os.chdir(cwd)
    try:
        with (
            warnings.catch_warnings(record=True) as caught,
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
        ):
            try:
                main()
            except SystemExit as exit_:
                code = exit_.code
            except Exception:
                failure, code = traceback.format_exc(), 1
    finally:
        sys.argv = argv
        os.chdir(here)
    # The warnings first, as a process prints them when raised: an error line stays the last.
    stderr = "".join(warnings.formatwarning(w.message, w.category, w.filename, w.lineno) for w in caught)
    stderr += err.getvalue() + failure + (f"{code}\n" if isinstance(code, str) else "")
    returncode = 1 if isinstance(code, str) else (code or 0)
    return subprocess.CompletedProcess(args, returncode, out.getvalue(), stderr)


def write_onnx_model(path: Path) -> None:
    """The smallest real ONNX model, y = x, as `python -m mnist_pl export` might have written: the app's own
    export takes 2 s (test_export.py tests it)."""
    import onnx

    value = [onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, [1]) for name in "xy"]
    graph = onnx.helper.make_graph([onnx.helper.make_node("Identity", ["x"], ["y"])], "identity", value[:1], value[1:])
    onnx.save(onnx.helper.make_model(graph), path)


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One short real fit (93-97%, by machine) in a fresh process, shared by the tests that need a trained run dir and
    checkpoint; its stdout and stderr are saved beside ``logs/`` as ``fit.stdout`` and ``fit.stderr``."""
    root = tmp_path_factory.mktemp("trained")
    fit = run_cli(
        "fit",
        f"--config={REPO / 'configs' / 'lenet.yaml'}",
        f"--data.data_dir={REPO / 'data'}",
        f"--trainer.logger.init_args.save_dir={root / 'logs'}",
        *QUICK_FIT,
        "--trainer.limit_train_batches=200",
        cwd=root,
    )
    assert fit.returncode == 0, fit.stderr[-3000:]
    (root / "fit.stdout").write_text(fit.stdout)  # what the user saw, for the tests of the printed results
    (root / "fit.stderr").write_text(fit.stderr)
    return root / "logs" / "lenet" / "version_0"
