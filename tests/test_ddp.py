"""Two processes on the CPU (DDP, gloo): disjoint halves of every epoch, metrics over all ranks, one checkpoint."""

import csv
import hashlib
import re
import shutil
import signal
from collections import Counter
from pathlib import Path

import pytest
import torch
import yaml
from conftest import REPO, printed, run_cli, run_main, stopped_as_a_group
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from mnist_pl.augment import RandomAffine
from mnist_pl.data import MNISTDataModule

# Two processes on the CPU, one epoch of 5 batches validated on 2.
TWO_PROCESSES_BRIEFLY = [
    "--trainer.devices=2",
    "--trainer.accelerator=cpu",
    "--trainer.max_epochs=1",
    "--trainer.limit_train_batches=5",
    "--trainer.limit_val_batches=2",
    "--trainer.enable_progress_bar=false",
]


def _augment_on_rank(rank: int, out: Path, images: torch.Tensor) -> None:
    """One DDP rank's RandomAffine of its 8 images, seeded as Lightning seeds every rank: alike."""
    torch.distributed.init_process_group("gloo", init_method=f"file://{out / 'store'}", rank=rank, world_size=2)
    try:
        torch.manual_seed(0)
        torch.save(RandomAffine(degrees=30, translate=0.1, scale=(0.8, 1.2), shear=20)(images), out / f"{rank}.pt")
    finally:
        torch.distributed.destroy_process_group()


@pytest.mark.slow  # two processes of their own, 15 s: the default suite's time
def test_ddp_ranks_augment_as_one_process_does_their_global_batch(tmp_path: Path) -> None:
    """Every rank holds the same RNG state: image j of each rank's batch was moved alike, and two ranks saw half
    the transforms one process draws. Each now takes its share of the draws for the ranks' batches together."""
    square = torch.zeros(8, 1, 28, 28)
    square[:, :, 10:18, 10:18] = 1
    torch.multiprocessing.spawn(_augment_on_rank, args=(tmp_path, square), nprocs=2)
    ranks = [torch.load(tmp_path / f"{rank}.pt") for rank in (0, 1)]
    assert not torch.allclose(ranks[0], ranks[1])
    torch.manual_seed(0)
    alone = RandomAffine(degrees=30, translate=0.1, scale=(0.8, 1.2), shear=20)(torch.cat([square, square]))
    assert torch.equal(torch.cat(ranks), alone)


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
        "--trainer.callbacks+=process_group_at_exit.ProcessGroupAtExit",
        f"--trainer.callbacks.out_dir={tmp_path / 'group'}",
        "--test_after_fit=false",
        cwd=tmp_path,
    )
    assert fit.returncode == 0, fit.stderr[-3000:]
    assert fit.stdout.count("Run saved in") == 1  # rank 0's word (log_dir is a broadcast every rank joins)
    # Lightning's advice for a tensor logged per epoch; train/ and val/acc_best are computed over all ranks.
    assert "sync_dist=True" not in fit.stderr
    # The validation's pictures are drawn by rank 0, which writes them; rank 1 left its two open.
    assert [(tmp_path / "figures" / f"rank{r}.txt").read_text() for r in (0, 1)] == ["0", "0"]
    # Left to the interpreter's teardown (Lightning ends only NCCL's), gloo's process group aborted a fit
    # now and then: "terminate called without an active exception", status -6.
    assert [(tmp_path / "group" / f"rank{r}.txt").read_text() for r in (0, 1)] == ["ended", "ended"]

    # Every training image exactly once per epoch, each rank its own half.
    dm = MNISTDataModule(data_dir=str(REPO / "data"))
    dm.setup("fit")
    expected = Counter(hashlib.md5(x.numpy().tobytes()).hexdigest() for x in dm.normalize(dm.train_set.images))
    ranks = [(seen / f"rank{r}.txt").read_text().split() for r in (0, 1)]
    assert len(ranks[0]) == len(ranks[1]) == 27500
    assert Counter(ranks[0]) + Counter(ranks[1]) == expected

    # val/acc and val/loss were reduced over both ranks: they equal one process validating the same weights.
    run = tmp_path / "logs" / "lenet" / "version_0"
    events = EventAccumulator(str(run))
    events.Reload()
    validate = run_main("validate", f"--ckpt_path={run / 'checkpoints' / 'last.ckpt'}", data, logs, cwd=tmp_path)
    assert validate.returncode == 0, validate.stderr[-3000:]
    for name, tolerance in (("val/acc", 1e-6), ("val/loss", 1e-5)):  # the loss: float32 sums in another order
        single = float(printed(name, validate.stdout))
        assert abs(single - events.Scalars(name)[-1].value) < tolerance, name
    assert events.Scalars("val/acc")[-1].value > 0.95

    # One run dir and one copy of each checkpoint (rank 0 writes; the other rank claims no version).
    assert [p.name for p in (tmp_path / "logs" / "lenet").iterdir()] == ["version_0"]
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["best.ckpt", "last.ckpt"]


@pytest.mark.slow  # two more 2-process runs of a 2-process fit's checkpoint: the default suite's time
def test_ddp_tests_and_resumes_a_ddp_runs_checkpoint_in_its_run(tmp_path: Path) -> None:
    logs = f"--trainer.logger.init_args.save_dir={tmp_path / 'logs'}"
    data = f"--data.data_dir={REPO / 'data'}"
    ddp = ["--trainer.strategy=ddp", "--trainer.devices=2", "--trainer.accelerator=cpu"]
    fit = run_cli(
        "fit", f"--config={REPO / 'configs' / 'lenet.yaml'}", data, logs, *ddp, *TWO_PROCESSES_BRIEFLY[2:], cwd=tmp_path
    )
    assert fit.returncode == 0, fit.stderr[-3000:]
    run = tmp_path / "logs" / "lenet" / "version_0"
    # Two processes test the best checkpoint with no config, into the run as rank 0 chose: no logs/mnist
    # (the folder of a new run's name) left behind by the other.
    test = run_cli("test", f"--ckpt_path={run / 'checkpoints' / 'best.ckpt'}", data, logs, *ddp, cwd=tmp_path)
    assert test.returncode == 0, test.stderr[-3000:]
    assert [p.name for p in (tmp_path / "logs").iterdir()] == ["lenet"]
    assert sorted(p.name for p in run.iterdir() if p.is_dir()) == ["checkpoints", "test_0"]  # the fit's in the run

    # Resumed in two processes for a second epoch of other settings: rank 0 alone asked for the run dir
    # (a broadcast) to compare the resume's settings with the run's, and the fit hung.
    more = ["--trainer.max_epochs=2", "--trainer.limit_train_batches=3", "--test_after_fit=false"]
    resume = run_cli("fit", f"--config={run / 'config.yaml'}", *more, "--ckpt_path=last", cwd=tmp_path)
    assert resume.returncode == 0, resume.stderr[-3000:]
    assert resume.stderr.count("resuming") == 1 and "trainer.limit_train_batches 5 -> 3" in resume.stderr
    assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 5 + 3


@pytest.mark.slow  # three more 2-process runs each
@pytest.mark.parametrize(
    "signum, stage, every",
    [
        (signal.SIGTERM, "train", []),
        (signal.SIGINT, "train", []),
        (signal.SIGTERM, "validate", []),
        (signal.SIGTERM, "setup", []),
        (signal.SIGTERM, "rank 1 built", []),
        (signal.SIGINT, "rank 1 built", []),
        # In epoch 0's validation, after a batch of gradients accumulated for step 2: agreed there, the checkpoint
        # (step 1) had them in no state, and the resume trained on without them. Held to step 2, as in one process.
        (signal.SIGTERM, "validate", ["--trainer.accumulate_grad_batches=2", "--trainer.val_check_interval=3"]),
    ],
    ids=[
        "SIGTERM",
        "Ctrl-C",
        "SIGTERM in the last validation",
        "SIGTERM as it starts",
        "SIGTERM as rank 1 starts",
        "Ctrl-C as rank 1 starts",
        "SIGTERM in a validation after an accumulated batch",
    ],
)
def test_a_signal_to_a_ddp_fits_process_group_stops_it_in_one_line(
    tmp_path: Path, signum: signal.Signals, stage: str, every: list[str]
) -> None:
    """As SLURM and a terminal send them, to every rank. Lightning's SIGTERM handler broadcast from inside
    itself, wherever each rank was: of 4 such fits 1 hung for good and 1 ended in a gloo traceback. A Ctrl-C
    ended in 158 lines, the run dir asked of the ranks Lightning had killed (an audit)."""
    data = f"--data.data_dir={REPO / 'data'}"
    args = ["fit", f"--config={REPO / 'configs' / 'lenet.yaml'}", data, *TWO_PROCESSES_BRIEFLY, *every]
    args += ["--trainer.strategy=ddp", "--trainer.max_epochs=2", "--trainer.limit_test_batches=2"]
    logs, marker = tmp_path / "logs", tmp_path / "paused"
    last_validation = stage == "validate" and not every
    pause = ["--trainer.callbacks+=pause_for_signal.PauseForSignal", f"--trainer.callbacks.stage={stage}"]
    pause += [
        f"--trainer.callbacks.epoch={int(last_validation)}",
        f"--trainer.callbacks.batch={int(stage != 'setup')}",
    ]
    pause += [f"--trainer.callbacks.marker={marker}", f"--trainer.logger.init_args.save_dir={logs}"]
    stopped = stopped_as_a_group([*args, *pause], tmp_path, marker, signum)
    stderr = stopped.stderr
    assert stopped.returncode == 1 and "Traceback" not in stderr, stderr[-3000:]
    assert stderr.count("error:") == 1, stderr[-3000:]  # rank 0's line alone
    last, run = stderr.strip().splitlines()[-1], logs / "lenet" / "version_0"
    # Before Lightning's handler: rank 0 died of it (143) without a word, its run dir left. As rank 1 started (rank 0
    # in torch's rendezvous), rank 1 did (a Ctrl-C: in a line of its own), and Lightning's watcher killed rank 0 (137).
    if stage in ("setup", "rank 1 built"):
        by = "SIGTERM" if signum == signal.SIGTERM else "Ctrl-C"
        assert last == f"error: fit: stopped by {by} before its first step, nothing kept: run it again"
        assert not list(logs.glob("*/version_*"))
        return
    if signum == signal.SIGINT:  # Lightning stops a Ctrl-C under DDP at once: the epoch's steps lost
        assert last == "error: fit: stopped by Ctrl-C before an epoch ended: nothing to resume, run it again"
        return
    if last_validation:  # the fit's end, its test not run
        assert last.startswith("error: fit: stopped by SIGTERM after its last epoch, all of it checkpointed ")
        assert not (run / "results.json").exists()
        return
    # Agreed after the next step, by both ranks, and checkpointed there; resumed, as if never stopped.
    steps = (2, 6) if every else (3, 10)  # where it stopped, and the fit's end (3 steps an epoch, accumulated)
    assert f" in epoch 0 at step {steps[0]}; checkpointed there: resume with " in last, stderr[-3000:]
    one_go = run_cli(
        *args, "--test_after_fit=false", f"--trainer.logger.init_args.save_dir={tmp_path / 'one_go'}", cwd=tmp_path
    )
    assert one_go.returncode == 0, one_go.stderr[-3000:]
    resume = re.search(r"resume with python -m mnist_pl (fit .*)$", last)[1].split()
    resumed = run_cli(*resume, "--test_after_fit=false", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    ours = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    theirs = torch.load(tmp_path / "one_go" / "lenet" / "version_0" / "checkpoints" / "last.ckpt", weights_only=True)
    assert ours["global_step"] == theirs["global_step"] == steps[1]
    assert all(torch.equal(ours["state_dict"][k], t) for k, t in theirs["state_dict"].items())
    # The stopped epoch's train/loss and train/acc over both ranks' batches: its checkpoint held rank 0's sums
    # alone, which both ranks took on (its batches counted twice, rank 1's not at all).
    tags = ("train/loss", "train/acc")
    ours, theirs = (EventAccumulator(str(d)).Reload() for d in (run, tmp_path / "one_go" / "lenet" / "version_0"))
    assert {tag: [(s.step, s.value) for s in ours.Scalars(tag)] for tag in tags} == {
        tag: [(s.step, s.value) for s in theirs.Scalars(tag)] for tag in tags
    }


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
        *TWO_PROCESSES_BRIEFLY,
        "--test_after_fit=false",
        "--seed_everything=true",  # a drawn seed: here, where no accuracy is asserted
        cwd=tmp_path,
    )
    assert fit.returncode == 0, fit.stderr[-3000:]
    run = tmp_path / "logs" / "lenet" / "version_0"  # the config's logger name carries over
    assert (run / "confusion_matrix.png").is_file() and (run / "metrics.csv").is_file()
    # Rank 0's drawn seed in every rank: each drew its own, and the run's config.yaml held rank 0's alone.
    recorded = yaml.safe_load((run / "config.yaml").read_text())["seed_everything"]
    assert re.findall(r"Seed set to (\d+)", fit.stdout + fit.stderr) == [str(recorded)] * 2


@pytest.mark.slow  # 2-process runs started anew for the fit and for its test
@pytest.mark.parametrize("strategy", ["ddp_spawn", "ddp_fork"])
def test_ddp_that_starts_its_processes_per_stage_tests_after_its_fit(strategy: str, tmp_path: Path) -> None:
    """The fit's processes wrote config.yaml; this one's writer, never told, refused its test in a traceback
    (ddp_spawn failed before: the model could not be pickled). A ddp_spawn process, which runs no main(),
    left gloo's process group to its interpreter's teardown, and one aborted the fit (SIGABRT)."""
    fit = run_cli(
        "fit",
        f"--config={REPO / 'configs' / 'minimal.yaml'}",
        f"--data.data_dir={REPO / 'data'}",
        f"--trainer.logger.init_args.save_dir={tmp_path / 'logs'}",
        f"--trainer.strategy={strategy}",
        *TWO_PROCESSES_BRIEFLY,
        "--trainer.limit_test_batches=2",
        "--trainer.callbacks+=process_group_at_exit.ProcessGroupAtExit",
        f"--trainer.callbacks.out_dir={tmp_path / 'group'}",
        cwd=tmp_path,
    )
    assert fit.returncode == 0, fit.stderr[-3000:]
    if strategy == "ddp_spawn":  # a forked process ends in os._exit: no exit handlers, no teardown to abort
        assert [(tmp_path / "group" / f"rank{r}.txt").read_text() for r in (0, 1)] == ["ended", "ended"]
    assert "test/acc" in fit.stdout and fit.stdout.count("Run saved in") == 1
    (run,) = (tmp_path / "logs").glob("*/version_0")
    assert sorted(p.name for p in run.glob("config*.yaml")) == ["config.yaml"]


@pytest.mark.slow  # a third 2-process run
def test_ddp_predict_writes_one_csv_with_each_image_once(trained_run: Path, tmp_path: Path) -> None:
    # Each rank wrote the CSV of its own shard: two files, each image in one of them, and an image
    # the sampler repeats to fill the last shard in both.
    dm = MNISTDataModule(data_dir=str(REPO / "data"))
    dm.setup("test")
    folder = tmp_path / "digits"
    folder.mkdir()
    for i in range(5):  # on 2 ranks: 0, 2, 4 and 1, 3, 0
        Image.fromarray(dm.test_set.images[i].numpy()).save(folder / f"digit{i}.png")
    run = tmp_path / "logs" / "lenet" / "version_0"
    shutil.copytree(trained_run, run)
    common = [
        "predict",
        f"--ckpt_path={run / 'checkpoints' / 'best.ckpt'}",
        f"--data.data_dir={REPO / 'data'}",
        f"--data.predict_path={folder}",
        "--data.eval_batch_size=2",
        "--trainer.enable_progress_bar=false",
    ]
    ddp = ["--trainer.strategy=ddp", "--trainer.devices=2", "--trainer.accelerator=cpu"]
    predicted = run_cli(*common, *ddp, cwd=tmp_path)  # into the run's predict_0, which the first process made
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    assert f"5 predictions written to {run.relative_to(tmp_path) / 'predict_0' / 'predictions.csv'}" in predicted.stdout
    one = run_main(*common, "--predictions.output=one.csv", cwd=tmp_path)
    assert one.returncode == 0, one.stderr[-3000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["digits", "logs", "one.csv"]
    assert sorted(p.name for p in run.iterdir() if p.name.startswith("predict")) == ["predict_0", "predict_1"]
    paths = {"ddp.csv": run / "predict_0" / "predictions.csv", "one.csv": tmp_path / "one.csv"}
    rows = {name: list(csv.reader(path.open())) for name, path in paths.items()}
    assert [row[0] for row in rows["ddp.csv"][1:]] == [str(folder / f"digit{i}.png") for i in range(5)]
    for ddp_row, one_row in zip(rows["ddp.csv"], rows["one.csv"], strict=True):
        assert ddp_row[:4] == one_row[:4]  # file, label, predicted class
        if ddp_row[0] != "file":
            assert [float(x) for x in ddp_row[4:]] == pytest.approx([float(x) for x in one_row[4:]], abs=2e-4)
