"""Shared fixtures: the bundled MNIST, and a quick CLI runner; everything here is real."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BUNDLED_RAW = REPO / "data" / "MNIST" / "raw"
GZ_FILES = sorted(p.name for p in BUNDLED_RAW.glob("*.gz"))

# A short fit: enough steps to learn well past chance in a few seconds.
QUICK_FIT = [
    "--trainer.max_epochs=1",
    "--trainer.limit_train_batches=60",
    "--trainer.limit_val_batches=2",
    "--trainer.enable_progress_bar=false",
]


@pytest.fixture
def gz_dir(tmp_path: Path) -> Path:
    """A data dir holding only copies of the bundled .gz files, as in a fresh clone."""
    raw = tmp_path / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in GZ_FILES:
        shutil.copy(BUNDLED_RAW / name, raw / name)
    return tmp_path / "data"


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``python -m mnist_pl ARGS`` in a fresh process, as a user runs it (test helpers importable)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "tests"), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, "-m", "mnist_pl", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One short real fit (97% or so), shared by the tests that need a trained run dir and checkpoint."""
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
    return root / "logs" / "lenet" / "version_0"
