"""Benchmark: ``python -m mnist_pl.bench``. Prints one table of speed, accuracy and memory figures.

1. One LeNet epoch (SGD lr 0.01 momentum 0.9, batch 64, fp32, no validation; the fastest of
   ``--repeats``) four ways: this app (``fit`` through the CLI, progress bar and logging on, as
   ``configs/lenet.yaml`` runs it); a minimal LightningModule on a plain Trainer (Lightning's
   own share of the overhead); a bare PyTorch loop over the same in-memory tensors with the same
   channels-last network (the floor); and the tutorial pipeline (torchvision ``MNIST`` +
   ``ToTensor``/``Normalize`` + ``DataLoader``, default NCHW network). On a GPU, the app once more
   with ``--model.cuda_graphs true``.
   Then, on a CPU, the app and the minimal module again, each with a bare-loop step run before
   every one of its training steps and timed apart (``InterleavedBareSteps``): their ratios to the
   bare loop from epochs that saw the same machine, step by step.
2. ``configs/fast.yaml`` (bf16 mixed precision, or fp32 on a CPU without bf16 instructions; CUDA
   graphs on a GPU) for seeds 0, 1, 2: training time (and the end-of-epoch validation's share of
   it), images per second, test accuracy.
3. The whole ``python -m mnist_pl fit --config configs/fast.yaml`` in a fresh process: wall time
   and peak resident memory.
All figures come from this one run, so their ratios are comparable even on a noisy machine.
"""

import argparse
import contextlib
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from importlib.metadata import version
from pathlib import Path
from typing import TextIO
from unittest import mock

try:  # torch and Lightning take seconds to import: a Ctrl-C then ended in a traceback (as __main__.py says)
    import lightning as L
    import torch
    import torch.nn.functional as F
    from lightning.pytorch.callbacks import Callback
    from torch import Tensor
    from torch.utils.data import DataLoader, Subset
    from torchvision import datasets, transforms

    from mnist_pl.cli import MNISTCLI
    from mnist_pl.data import MNISTDataModule
    from mnist_pl.errors import UserError, reported
    from mnist_pl.files import cannot_write
    from mnist_pl.nets import LeNet
    from mnist_pl.parser import near_option
    from mnist_pl.signals import ctrl_c_at_once_after, stopped_in_one_line
except KeyboardInterrupt:
    if __name__ != "__main__":  # the table's import: its own line
        raise
    sys.exit("error: bench: stopped by Ctrl-C as it started, nothing written: run it again")

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
SAVE_DIR = "logs/bench"  # where the fits' runs are kept


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if "model name" in line]
        cpu = names[0] if names else cpu
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "none"
    libs = ", ".join(f"{name} {version(name)}" for name in ("torch", "torchvision", "lightning", "torchmetrics"))
    return (
        f"CPU: {cpu}, {torch.get_num_threads()} torch threads on {len(os.sched_getaffinity(0))} cores"
        f" | GPU: {gpu} | Python {platform.python_version()}, {libs}"
    )


def _sgd(net: torch.nn.Module) -> torch.optim.Optimizer:
    return torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)


def _sgd_step(net: torch.nn.Module, optimizer: torch.optim.Optimizer, images: Tensor, labels: Tensor) -> None:
    loss = F.nll_loss(F.log_softmax(net(images), dim=1), labels)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


def _wait_for(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _sgd_epoch(net: torch.nn.Module, batches: Iterable[tuple[Tensor, Tensor]], device: torch.device) -> float:
    """Train ``net`` for one pass over ``batches`` of normalised images; seconds taken."""
    net.to(device).train()
    optimizer = _sgd(net)
    start = time.perf_counter()
    for images, labels in batches:
        _sgd_step(net, optimizer, images.to(device, non_blocking=True), labels.to(device, non_blocking=True))
    _wait_for(device)
    return time.perf_counter() - start


def _bare_batches(dm: MNISTDataModule, device: torch.device) -> Iterator[tuple[Tensor, Tensor]]:
    """In-memory tensors, a random permutation, one index and one normalisation per batch (when drawn)."""
    images, labels = dm.train_set.images.to(device), dm.train_set.labels.to(device)
    order = torch.randperm(len(labels), device=device)
    return ((dm.normalize(images.index_select(0, i)), labels.index_select(0, i)) for i in order.split(64))


def _bare_net(device: torch.device) -> torch.nn.Module:
    return LeNet().to(memory_format=torch.channels_last).to(device)


def bare_epoch(dm: MNISTDataModule, device: torch.device) -> float:
    """The floor: the bare loop over ``_bare_batches``."""
    L.seed_everything(0, verbose=False)
    return _sgd_epoch(_bare_net(device), _bare_batches(dm, device), device)


class InterleavedBareSteps(Callback):
    """Before each training step of the fit it joins, one step of the bare loop, timed apart.

    This host slows a 9 ms step by 1-3 ms for seconds to minutes at a time, so two epochs run one
    after the other may see different machines: the fastest of five epochs each gave app/bare
    between 1.02x and 1.15x in four runs of the same code. Step by step, both loops see the same
    machine; the fit's epoch less the bare steps inside it is the fit's own time. Their ratio
    stayed within 1.11-1.15x over a dozen such epochs on the same code. Each loop's step follows
    one of the other's, so both start with the other's data in the caches; neither is favoured.
    On a GPU the synchronisation that ends each timed bare step also waits for the fit's queued
    work, so there the fit loses its overlap of Python and kernels: a CPU measure.
    """

    def __init__(self, dm: MNISTDataModule, device: torch.device) -> None:
        self.batches = _bare_batches(dm, device)
        self.device = device
        self.net = _bare_net(device).train()
        self.optimizer = _sgd(self.net)
        self.bare = 0.0

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.start = time.perf_counter()

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: object, batch_idx: int
    ) -> None:
        start = time.perf_counter()
        _sgd_step(self.net, self.optimizer, *next(self.batches))
        _wait_for(self.device)
        self.bare += time.perf_counter() - start

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        _wait_for(self.device)
        self.ratio = (time.perf_counter() - self.start - self.bare) / self.bare


def classic_epoch(dm: MNISTDataModule, device: torch.device) -> float:
    """What the tutorials do: per-sample PIL image, ToTensor, Normalize, default collation."""
    L.seed_everything(0, verbose=False)
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    full = datasets.MNIST(dm.hparams.data_dir, train=True, transform=transform)
    split = torch.randperm(60000, generator=torch.Generator().manual_seed(dm.hparams.split_seed))
    train = Subset(full, split[dm.hparams.val_size :].tolist())
    loader = DataLoader(train, batch_size=64, shuffle=True, pin_memory=device.type == "cuda")
    return _sgd_epoch(LeNet(), loader, device)


class MinimalModule(L.LightningModule):
    """Lightning's own floor: the bare loop's step as a LightningModule, nothing else."""

    def __init__(self) -> None:
        super().__init__()
        self.net = LeNet().to(memory_format=torch.channels_last)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        images, labels = batch
        return F.nll_loss(F.log_softmax(self.net(images), dim=1), labels)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.01, momentum=0.9)


def lightning_epoch(
    dm: MNISTDataModule, device: torch.device, *callbacks: Callback, limit_train_batches: int | float = 1.0
) -> float:
    """One epoch of ``MinimalModule`` on a plain Trainer on ``device``: no logger, checkpoints, bar or metrics."""
    L.seed_everything(0, verbose=False)
    clock = TrainClock()
    trainer = L.Trainer(
        accelerator=device.type,
        devices=1,
        max_epochs=1,
        limit_train_batches=limit_train_batches,
        limit_val_batches=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[clock, *callbacks],
    )
    trainer.fit(MinimalModule(), datamodule=dm)  # set up once: no file reads per epoch
    return clock.seconds


class TrainClock(Callback):
    """Seconds from the first training epoch's start to the last one's end, validation included
    (``seconds``), and the validations' share of them (``validation``: the app draws two figures
    after each one, 0.2-0.3 s on a 2-core Xeon, a quarter of a ``fast.yaml`` epoch on a GPU).

    Lightning runs ``ModelCheckpoint``'s epoch-end saves after the other callbacks' epoch-end hooks,
    so the checkpoints written then are not counted: on the GPU machine one write, flushed to disk,
    took 4.6 s, more than the epoch.
    """

    validation = 0.0

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        _wait_for(pl_module.device)
        self.start = getattr(self, "start", time.perf_counter())

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        _wait_for(pl_module.device)  # the training steps queued before it are not its
        self.validation_start = time.perf_counter()

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.sanity_checking:  # before training: not in ``seconds`` either
            _wait_for(pl_module.device)
            self.validation += time.perf_counter() - self.validation_start

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        _wait_for(pl_module.device)  # a GPU's queued steps belong to the epoch
        self.seconds = time.perf_counter() - self.start


def app_cli(config: str, *args: str, save_dir: str = SAVE_DIR, stdout: TextIO | None = None, **kwargs) -> MNISTCLI:
    """``fit`` of ``config`` (a name in configs/) through the CLI in this process, its run kept in ``save_dir``;
    what the fit draws on stdout goes to ``stdout`` (stderr by default: the table keeps stdout)."""
    # LightningCLI warns when it is given args while sys.argv holds options (this script's own): hide those.
    with contextlib.redirect_stdout(stdout or sys.stderr), mock.patch.object(sys, "argv", sys.argv[:1]):
        return MNISTCLI(
            args=["fit", f"--config={CONFIGS / config}", f"--trainer.logger.init_args.save_dir={save_dir}", *args],
            parser_kwargs={"prog": "python -m mnist_pl"},  # in its errors' usage and tip lines
            **kwargs,
        )


def app_fit(
    config: str, *args: str, save_dir: str = SAVE_DIR, callbacks: Sequence[Callback] = ()
) -> tuple[TrainClock, float, MNISTCLI]:
    """``fit`` through the CLI in this process, its run kept in ``save_dir`` as its last line says;
    (its training's clock, test accuracy or nan, the CLI)."""
    clock = TrainClock()
    cli = app_cli(config, *args, save_dir=save_dir, trainer_defaults={"callbacks": [clock, *callbacks]})
    acc = cli.trainer.callback_metrics.get("test/acc", torch.tensor(float("nan"))).item()
    return clock, acc, cli


def whole_fit(config: str) -> tuple[float, float]:
    """``python -m mnist_pl fit`` in a fresh process; (wall seconds, peak resident MiB)."""
    # A child started from this process would report this process's peak as its own: Linux
    # carries a forked child's memory high-water mark across exec (a `python -c pass` started
    # from a 1.5 GB process reports 1.5 GB). A small Python in between starts the fit and
    # reports the fit's own peak: ru_maxrss of its children, KiB on Linux.
    starter = (
        "import resource, subprocess, sys; fit = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL);"
        "fit.returncode and sys.exit(fit.returncode); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as logs:  # a killed fit's files: its workers
        command = [sys.executable, "-m", "mnist_pl", "fit", f"--config={CONFIGS / config}"]
        options = [f"--trainer.logger.init_args.save_dir={logs}", "--trainer.enable_progress_bar=false"]
        start = time.perf_counter()
        # A group of its own, ended with the bench: stopped by Ctrl-C or SIGTERM, the bench killed the starter
        # alone, and the fit ran on by itself (an audit).
        with subprocess.Popen(
            [sys.executable, "-c", starter, *command, *options],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        ) as fit:
            try:
                out, err = fit.communicate()
            except BaseException:
                with contextlib.suppress(ProcessLookupError):  # ended already
                    os.killpg(fit.pid, signal.SIGKILL)
                raise
        wall = time.perf_counter() - start
    if fit.returncode:  # its own last line says why
        said = err.strip().splitlines()[-1].removeprefix("error: ") if err.strip() else f"status {fit.returncode}"
        raise UserError(f"the whole fit of {config} ({' '.join(command)}) failed: {said}")
    return wall, int(out.split()[-1]) / 1024


def fast_rows(
    seed: int, clock: TrainClock, acc: float, precision: str, graphs: bool, gpu: bool, images: int
) -> list[tuple[str, str]]:
    """The table's rows of one ``fast.yaml`` fit; its images per second over the training steps' time
    alone, not the validation's inside the epoch."""
    graphed = ", CUDA graphs" if gpu and graphs else ""
    return [
        (
            f"fast.yaml seed {seed}: training, 1 epoch, {precision}{graphed} (target <= {1.5 if gpu else 12} s)",
            f"{clock.seconds:.2f} s ({clock.validation:.2f} s of it validation), "
            f"{images / (clock.seconds - clock.validation):,.0f} img/s of training",
        ),
        (f"fast.yaml seed {seed}: test accuracy", f"{acc:.2%}"),
    ]


def lenet_rows(
    app: float,
    graphed: list[float],
    lightning: float,
    bare: float,
    classic: float,
    paired_app: list[float],
    paired_lightning: list[float],
) -> list[tuple[str, str]]:
    """The table's LeNet rows; ``graphed`` (the app's epochs with CUDA graphs) is empty but on a GPU."""
    target = " (GPU target <= 1.5 s)" if graphed else ""
    rows = [
        (f"LeNet epoch, batch 64, fp32: this app{target}", f"{app:.2f} s"),
        ("LeNet epoch, batch 64, fp32: minimal LightningModule", f"{lightning:.2f} s"),
        ("LeNet epoch, batch 64, fp32: bare PyTorch loop", f"{bare:.2f} s"),
        ("LeNet epoch, batch 64, fp32: tutorial DataLoader", f"{classic:.2f} s"),
        ("  app / bare (target <= 1.10)", f"{app / bare:.2f}x"),
        ("  app / tutorial (target <= 0.65)", f"{app / classic:.2f}x"),
    ]
    if graphed:
        rows += [
            (f"LeNet epoch, batch 64, fp32: this app, --model.cuda_graphs true{target}", f"{min(graphed):.2f} s"),
            ("  app with --model.cuda_graphs true / bare", f"{min(graphed) / bare:.2f}x"),
        ]
    return [
        *rows,
        ("  minimal LightningModule / bare", f"{lightning / bare:.2f}x"),
        ("  app / bare, interleaved step by step", _median_of(paired_app)),
        ("  minimal LightningModule / bare, interleaved", _median_of(paired_lightning)),
    ]


def _median_of(ratios: list[float]) -> str:
    if not ratios:
        return "not run on a GPU (a CPU measure: InterleavedBareSteps)"
    runs = ", ".join(f"{ratio:.3f}" for ratio in ratios)
    return f"{statistics.median(ratios):.2f}x (median of {runs})"


def positive_int(text: str) -> int:
    """argparse's type for a count of runs: 0 ended the bench in a traceback after its warm-up."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected an int > 0, got {text}")
    return int(text)


def refuse_repeats(parser: argparse.ArgumentParser, given: dict[str, list]) -> None:
    """Each option of ``given`` (the bench's and the table's lists) given once, and each of its values once:
    argparse keeps an option's last values (--configs minimal --configs lenet was lenet's table alone), and a
    seed twice trained the same fit twice, its range one number (an audit of each)."""
    for option, values in given.items():
        if sum(word.split("=")[0] == option for word in sys.argv[1:]) > 1:
            parser.error(f"{option} given twice: give its values after one {option}, each once")
        if twice := [value for value in dict.fromkeys(values) if values.count(value) > 1]:
            parser.error(f"{option} {' '.join(map(str, values))}: {twice[0]} twice: give each once")


def numpy_seed(text: str) -> int:
    """argparse's type for a seed: one numpy cannot take failed the first fit given it, minutes in."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"expected an int from 0 to {2**32 - 1}, got {text}")
    return value


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m mnist_pl.bench",
        usage="%(prog)s [--seeds SEED ...] [--repeats N] [--interleaved N]",  # one line above an error, as fit's
        description="Prints one table of speed, accuracy and memory figures: one LeNet epoch of this app, a minimal "
        "LightningModule, a bare PyTorch loop and the tutorials' DataLoader pipeline; configs/fast.yaml to 99%; a "
        "whole fit's time and peak memory. Its training fits' runs go into logs/bench. 5 to 15 minutes on 2 CPU cores.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument(
        "--seeds", type=numpy_seed, nargs="+", default=[0, 1, 2], help="seeds of the configs/fast.yaml fits"
    )
    parser.add_argument(
        "--repeats", type=positive_int, default=5, help="runs of each of the four LeNet epochs; the fastest counts"
    )
    parser.add_argument(
        "--interleaved",
        type=positive_int,
        default=3,
        help="rounds in which the app and a minimal LightningModule each train an epoch, a bare-loop step timed "
        "before each of their steps (CPU only); the median ratio counts",
    )
    args, unknown = parser.parse_known_args()
    if unknown:  # argparse's own words offered no option (--seed for --seeds)
        typed = unknown[0].partition("=")[0]
        near = near_option(typed, [option for option in parser._option_string_actions if option.startswith("--")])
        parser.error(f"unrecognized arguments: {' '.join(unknown)}" + (f": {typed} here is {near}" if near else ""))
    refuse_repeats(parser, {"--seeds": args.seeds})
    # The fits' own error named --trainer.logger.init_args.save_dir, which the bench does not take.
    if why := cannot_write(Path(SAVE_DIR)):
        parser.error(f"{SAVE_DIR}: its fits' runs cannot be written there ({why}): run it in a folder where they can")
    with reported(), stopped_in_one_line("bench", f"no table printed (its fits' runs so far in {SAVE_DIR})"):
        _bench(args)


def _bench(args: argparse.Namespace) -> None:
    gpu = torch.cuda.is_available()
    device = torch.device("cuda" if gpu else "cpu")
    dm = MNISTDataModule()
    dm.prepare_data()
    dm.setup("fit")

    no_val = ["--trainer.limit_val_batches=0", "--trainer.num_sanity_val_steps=0", "--test_after_fit=false"]
    fp32 = "--trainer.precision=32-true"  # the bare loop and the tutorial compute in fp32 too
    # Untimed warm-up, validation included: the first steps of a process, and the first batch of
    # each size, pay one-time costs (oneDNN kernel generation, allocator growth) that would
    # otherwise land on whichever measurement runs first.
    warm_up = ["--trainer.max_epochs=1", "--trainer.limit_train_batches=30", "--trainer.limit_val_batches=2"]
    app_fit("lenet.yaml", *warm_up, fp32, "--test_after_fit=false")
    app_fit("fast.yaml", *warm_up, "--test_after_fit=false")
    # The four LeNet epochs in turn, `--repeats` times, keeping each one's fastest: on a shared
    # machine a neighbour's burst then cannot decide a ratio on its own. Even so, on this
    # project's host app/bare moved between 0.99x and 1.14x from run to run with three rounds,
    # and between 1.02x and 1.15x with five; hence the interleaved rounds after them.
    lenet = ["lenet.yaml", "--trainer.max_epochs=1", fp32, *no_val]
    app, graphed, lightning, bare, classic = [], [], [], [], []
    for _ in range(args.repeats):
        app.append(app_fit(*lenet)[0].seconds)
        if gpu:  # --model.cuda_graphs does nothing on a CPU
            graphed.append(app_fit(*lenet, "--model.cuda_graphs=true")[0].seconds)
        lightning.append(lightning_epoch(dm, device))
        bare.append(bare_epoch(dm, device))
        classic.append(classic_epoch(dm, device))
    app, lightning, bare, classic = min(app), min(lightning), min(bare), min(classic)
    paired_app, paired_lightning = [], []
    for _ in range(0 if gpu else args.interleaved):  # a CPU measure (InterleavedBareSteps)
        steps = InterleavedBareSteps(dm, device)
        app_fit(*lenet, callbacks=[steps])
        paired_app.append(steps.ratio)
        steps = InterleavedBareSteps(dm, device)
        lightning_epoch(dm, device, steps)
        paired_lightning.append(steps.ratio)
    fast = [app_fit("fast.yaml", f"--seed_everything={seed}") for seed in args.seeds]
    wall, rss = whole_fit("fast.yaml")

    rows = lenet_rows(app, graphed, lightning, bare, classic, paired_app, paired_lightning)
    for seed, (clock, acc, cli) in zip(args.seeds, fast, strict=True):
        # 32-true on a CPU without bf16 instructions
        graphs, images = cli.model.hparams.cuda_graphs, len(cli.datamodule.train_set)
        rows += fast_rows(seed, clock, acc, cli.trainer.precision, graphs=graphs, gpu=gpu, images=images)
    rows.append(("python -m mnist_pl fit --config configs/fast.yaml", f"{wall:.1f} s wall, {rss:,.0f} MiB peak RSS"))
    print(f"\n{machine()}\n")
    print(f"Its fits' runs: tensorboard --logdir {SAVE_DIR}\n")
    width = max(len(name) for name, _ in rows)
    print(f"| {'measure':<{width}} | result |\n|{'-' * (width + 2)}|--------|")
    for name, value in rows:
        print(f"| {name:<{width}} | {value} |")


if __name__ == "__main__":
    with ctrl_c_at_once_after():
        main()
