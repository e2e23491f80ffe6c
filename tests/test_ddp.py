"""Two processes on the CPU (DDP, gloo): disjoint halves of every epoch, metrics over all ranks, one checkpoint."""

import hashlib
import re
from collections import Counter
from pathlib import Path

import pytest
from conftest import REPO, run_cli, run_main
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from mnist_pl.data import MNISTDataModule


def test_ddp_ranks_read_disjoint_halves_and_reduce_val_acc(tmp_path: Path) -> None:
    seen = tmp_path / "seen"
    logs = f"--trainer.logger.init_args.save_dir={tmp_path / 'logs'}"
    data = f"--data.data_dir={REPO / 'data'}"
    fit = run_cli(
        "fit",
        f"--config={REPO / 'configs' / 'lenet.yaml'}",
        data,
        logs,
        "--model.net=mnist_pl.nets.MinimalCNN",  # a whole epoch in seconds: 96.5% (LeNet: 12 s more)
        "--trainer.strategy=ddp",
        "--trainer.devices=2",
        "--trainer.accelerator=cpu",
        "--trainer.max_epochs=1",
        "--trainer.enable_progress_bar=false",
        "--trainer.callbacks+=batch_recorder.BatchRecorder",
        f"--trainer.callbacks.out_dir={seen}",
        "--trainer.callbacks+=open_figures.OpenFigures",
        f"--trainer.callbacks.out_dir={tmp_path / 'figures'}",
        "--test_after_fit=false",
        cwd=tmp_path,
    )
    assert fit.returncode == 0, fit.stderr[-3000:]
    # The validation's pictures are drawn by rank 0, which writes them; rank 1 left its two open.
    assert [(tmp_path / "figures" / f"rank{r}.txt").read_text() for r in (0, 1)] == ["0", "0"]

    # Every training image exactly once per epoch, each rank its own half.
    dm = MNISTDataModule(data_dir=str(REPO / "data"))
    dm.setup("fit")
    expected = Counter(hashlib.md5(x.numpy().tobytes()).hexdigest() for x in dm.normalize(dm.train_set.images))
    ranks = [(seen / f"rank{r}.txt").read_text().split() for r in (0, 1)]
    assert len(ranks[0]) == len(ranks[1]) == 27500
    assert Counter(ranks[0]) + Counter(ranks[1]) == expected

    # val/acc was reduced over both ranks: it equals one process validating the same weights.
    run = tmp_path / "logs" / "lenet" / "version_0"
    events = EventAccumulator(str(run))
    events.Reload()
    ddp_acc = events.Scalars("val/acc")[-1].value
    validate = run_main("validate", f"--ckpt_path={run / 'checkpoints' / 'last.ckpt'}", data, logs, cwd=tmp_path)
    assert validate.returncode == 0, validate.stderr[-3000:]
    single_acc = float(re.search(r"val/acc\s+([0-9.]+)", validate.stdout).group(1))
    assert abs(single_acc - ddp_acc) < 1e-6
    assert ddp_acc > 0.95

    # One run dir and one copy of each checkpoint (rank 0 writes; the other rank claims no version),
    # and one process tests the best checkpoint with no config.
    assert [p.name for p in (tmp_path / "logs" / "lenet").iterdir()] == ["version_0"]
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["best.ckpt", "last.ckpt"]
    test = run_main("test", f"--ckpt_path={run / 'checkpoints' / 'best.ckpt'}", data, logs, cwd=tmp_path)
    assert test.returncode == 0, test.stderr[-3000:]
    assert float(re.search(r"test/acc\s+([0-9.]+)", test.stdout).group(1)) > 0.95


@pytest.mark.slow  # a second 2-process fit: the default suite has the first, with TensorBoard
def test_ddp_fit_with_another_logger_ends_cleanly(tmp_path: Path) -> None:
    # ImageLogger draws into TensorBoard only; with a CSV logger the confusion matrix is first
    # computed when the fit ends, a gather every rank must join (rank 0 alone crashed the run).
    fit = run_cli(
        "fit",
        f"--config={REPO / 'configs' / 'lenet.yaml'}",
        f"--data.data_dir={REPO / 'data'}",
        "--trainer.logger=lightning.pytorch.loggers.CSVLogger",
        f"--trainer.logger.init_args.save_dir={tmp_path / 'logs'}",
        "--model.net=mnist_pl.nets.MinimalCNN",
        "--trainer.strategy=ddp",
        "--trainer.devices=2",
        "--trainer.accelerator=cpu",
        "--trainer.max_epochs=1",
        "--trainer.limit_train_batches=5",
        "--trainer.limit_val_batches=2",
        "--trainer.enable_progress_bar=false",
        "--test_after_fit=false",
        cwd=tmp_path,
    )
    assert fit.returncode == 0, fit.stderr[-3000:]
    run = tmp_path / "logs" / "lenet" / "version_0"  # the config's logger name carries over
    assert (run / "confusion_matrix.png").is_file() and (run / "metrics.csv").is_file()
