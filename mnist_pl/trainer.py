"""The Trainer this app runs: Lightning's, with the app's progress bar, profiler and batch limits,
and the trainer settings refused before a run starts (Lightning took them without a word, or ended
in a traceback that named no option); and its processes' memory and DDP process group."""

import atexit
import contextlib
import ctypes
import math
import os
import re
from pathlib import Path
from typing import Any

import lightning as L
import torch
from jsonargparse import Namespace
from lightning.fabric.plugins.environments import LightningEnvironment
from lightning.pytorch import callbacks
from lightning.pytorch.callbacks import ProgressBar, TQDMProgressBar
from lightning.pytorch.profilers import PassThroughProfiler
from lightning.pytorch.trainer.setup import _parse_time_interval_seconds
from lightning.pytorch.utilities import rank_zero_warn
from lightning.pytorch.utilities.exceptions import MisconfigurationException

from mnist_pl.checkpoints import PlateauStepOnResume, RunCheckpoint
from mnist_pl.errors import UserError


def _keep_freed_memory() -> None:
    """Stop glibc from giving freed memory back to the OS between training steps.

    With its default, dynamic thresholds glibc trims the heap after each Lightning training step
    and the next step faults the pages back in: about 120 page faults and 0.25 ms of kernel time
    per LeNet step on a 2-core EPYC (a bare PyTorch loop: 5). With both thresholds at 1 GiB: 2.
    The cost is that the process keeps its peak memory until it ends. Other C libraries: no-op.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's malloc.h
    for option in (m_mmap_threshold, m_trim_threshold):
        mallopt(option, 1 << 30)


_keep_freed_memory()  # process-wide, on import: in place before the first training step


def end_process_group() -> None:
    """End this process's torch.distributed process group, if it has one.

    Lightning ends it at exit for NCCL only. Gloo's (DDP on CPUs), left to the interpreter's teardown,
    aborted a 2-process run now and then: "terminate called without an active exception", status -6
    (pytorch/pytorch#190489). ``python -m mnist_pl`` calls this as it ends; the processes of
    ``--trainer.strategy ddp_spawn``, which run no ``main()``, at their exit (one aborted a fit so).
    """
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


atexit.register(end_process_group)  # on import: a ddp_spawn process imports this module to unpickle the Trainer


def native_bf16() -> bool:
    """Whether this CPU computes bf16 in hardware: AVX512-BF16 or AMX on x86, the BF16 extension on Arm."""
    capabilities = torch.cpu.get_capabilities()
    return any(capabilities.get(name, False) for name in ("avx512_bf16", "amx_bf16", "bf16"))


class NoProfiler(PassThroughProfiler):
    """Lightning's default profiler (it profiles nothing) without its cost.

    Lightning wraps ~70 calls of each training step in ``profiler.profile(name)`` (71 counted in a
    one-process fit, with the app's nine callbacks: six hooks each); the default enters and leaves a
    generator-based context each time, 1.0 us against 0.2 us here on a 2-core Zen 4 CPU, ~0.05 ms per
    step (0.5% of a LeNet step). This hands out one shared null context instead.
    ``--trainer.profiler simple`` (or ``advanced``, ``pytorch``) still profiles.
    """

    _nothing = contextlib.nullcontext()

    def profile(self, action_name: str) -> contextlib.AbstractContextManager:
        return self._nothing


def refuse_a_minimum_past_the_end(trainer: L.Trainer) -> None:
    """A min_steps past the steps max_epochs gives, or a min_epochs past max_steps: Lightning stops at the max
    without a word about the min (each against its own max is refused as the settings are read). As the fit
    starts, where its steps per epoch are known."""
    if (not trainer.min_steps and not trainer.min_epochs) or trainer.fast_dev_run:  # its own one step: a look
        return
    total = trainer.estimated_stepping_batches  # first: where it needs them, it loads the data
    if not trainer.num_training_batches or math.isinf(trainer.num_training_batches):
        return
    per_epoch = math.ceil(trainer.num_training_batches / trainer.accumulate_grad_batches)
    if trainer.min_steps and trainer.min_steps > total:
        raise UserError(
            f"--trainer.min_steps {trainer.min_steps}: the fit ends after {int(total)} steps ({trainer.max_epochs} "
            f"epoch(s) of {per_epoch}): give --trainer.max_epochs {math.ceil(trainer.min_steps / per_epoch)} or more"
        )
    max_steps = trainer.max_steps
    # Lightning's own min_epochs 1 where a min_steps is given (_parse_loop_limits): no one typed it (a review).
    min_epochs = None if trainer.min_steps and trainer.min_epochs == 1 else trainer.min_epochs
    if min_epochs and max_steps != -1 and min_epochs * per_epoch > max_steps:
        raise UserError(
            f"--trainer.min_epochs {min_epochs}: --trainer.max_steps {max_steps} ends the fit in epoch "
            f"{math.ceil(max_steps / per_epoch)} ({per_epoch} steps each): give --trainer.max_steps "
            f"{min_epochs * per_epoch} or more"
        )


def refuse_an_early_stop_before_validation(trainer: L.Trainer) -> None:
    """An EarlyStopping on a val/ metric that checks at each training epoch's end (Lightning's choice for one
    validation an epoch, or asked for), where the first epoch ends before the first validation (max_steps
    ends it sooner, or validations come every other epoch): Lightning's RuntimeError traceback at that epoch's
    end, the metric not yet logged. As the fit starts, where its steps per epoch are known (a fit from a
    checkpoint refuses max_steps)."""
    stopping = [
        callback
        for callback in trainer.early_stopping_callbacks
        # Set in its setup, from its check_on_train_epoch_end or Lightning's rule; Lightning has no public name for it.
        if callback.monitor.startswith("val/") and callback._check_on_train_epoch_end
    ]
    if not stopping or trainer.fast_dev_run:
        return
    # The estimate first: where it needs them, it loads the data, and sets val_check_batch with them. Not an int:
    # time-based validation, or an epoch of no length.
    if not trainer.estimated_stepping_batches or not isinstance(first := trainer.val_check_batch, int):
        return
    batches, every = trainer.num_training_batches, trainer.check_val_every_n_epoch
    per_epoch = math.ceil(batches / trainer.accumulate_grad_batches)
    # Its batch in every check_val_every_n_epoch-th epoch, or, with that null, counted across epochs.
    steps = math.ceil((first if every is None else (every - 1) * batches + first) / trainer.accumulate_grad_batches)
    monitor = f"--trainer.callbacks EarlyStopping monitor {stopping[0].monitor}"
    if steps > per_epoch:
        raise UserError(
            f"{monitor}: it checks at each training epoch's end, and the first validation comes after {steps} "
            f"steps, in epoch {math.ceil(steps / per_epoch)} ({per_epoch} steps each): give "
            "--trainer.callbacks.check_on_train_epoch_end false"
        )
    if trainer.max_steps != -1 and trainer.max_steps < steps:
        raise UserError(
            f"{monitor}: --trainer.max_steps {trainer.max_steps} ends the fit before its first validation (after "
            f"{steps} steps): give --trainer.max_steps {steps} or more, or monitor a train/ metric"
        )


def no_validation_images(from_a_checkpoint: bool) -> tuple[str, str]:
    """The words of a --data.val_size of 0, and the fix that holds images out: another val_size, which a fit
    from a checkpoint refuses (it keeps the checkpoint's split), so there a new run."""
    if from_a_checkpoint:
        return (
            "the checkpoint was trained with --data.val_size 0, no validation images, and a fit from it keeps that",
            "start a new run with a val_size, such as 5000",
        )
    return "--data.val_size 0 holds out no validation images", "give a val_size, such as 5000"


def no_validation(
    trainer: L.Trainer, datamodule: L.LightningDataModule | None = None, from_a_checkpoint: bool | None = None
) -> tuple[str, str]:
    """What turned a fit's validation off, and the fix that turns it on: "give validation batches" alone led a
    --data.val_size of 0, which asks for --trainer.limit_val_batches 0, to that refusal. ``from_a_checkpoint``:
    whether the fit goes on from one (by default, whether the fit in progress does)."""
    datamodule = datamodule or trainer.datamodule
    if getattr(datamodule, "hparams", {}).get("val_size") == 0:
        resumed = trainer.ckpt_path is not None if from_a_checkpoint is None else from_a_checkpoint
        off, fix = no_validation_images(resumed)
        return off, f"{fix}, and validation batches"
    return "--trainer.limit_val_batches 0 runs no validation", "give validation batches"


def refuse_a_lone_node(trainer: L.Trainer) -> None:
    """Several machines with no cluster to start them (SLURM, torchrun, ...) and no NODE_RANK: the first
    waited in torch's rendezvous for the others, deaf to Ctrl-C and SIGTERM (an audit killed it after 14 min)."""
    environment = getattr(trainer.strategy, "cluster_environment", None)
    if trainer.num_nodes < 2 or type(environment) is not LightningEnvironment:  # a cluster's: it starts them all
        return
    if not {"NODE_RANK", "GROUP_RANK"} & os.environ.keys():
        raise UserError(
            f"--trainer.num_nodes {trainer.num_nodes}: no cluster (SLURM, torchrun, ...) starts the other machines, "
            "and this one would wait for them: run it on each machine with NODE_RANK (0, 1, ...), MASTER_ADDR "
            "and MASTER_PORT set, or leave the option out (one machine)"
        )


class Trainer(L.Trainer):
    """Lightning's Trainer, with the app's batch limits (1 is one batch, 1.0 all) and progress bar.

    Its batch limits are read as Lightning documents them, and its progress bar is redrawn every 10
    steps. Also: ``enable_model_summary false`` drops the config's
    ModelSummary (which stood in for Lightning's own), two callbacks of one state key are refused in one
    line, ``PlateauStepOnResume`` comes first, and ``checkpoint_callback`` is the run's own ``--checkpoint``.

    Each redraw costs ~0.7 ms of Python (measured, 300 LeNet steps on the CPU) and reads logged
    values back to the host; Lightning's own bar redraws every step. A progress bar given in
    ``--trainer.callbacks`` (``TQDMProgressBar`` with ``refresh_rate: 1``: every step) is kept as given.

    Lightning declares the limits ``Optional[Union[int, float]]``, but its Fabric, imported first,
    declares ``Optional[Union[float, int]]``, and Python's typing cache (equal unions share one
    entry) hands the Trainer that float-first union: jsonargparse parsed ``1`` as 1.0, every batch.
    ``int | float`` is not cached. (``overfit_batches``, ``Union[int, float]`` and never None, is parsed as typed.)

    Args:
        limit_train_batches: training batches per epoch: an int counts them (1: one batch), a float is a
            fraction (1.0: all); default: all.
        limit_val_batches: validation batches: an int counts them, a float is a fraction; default: all.
        limit_test_batches: test batches: an int counts them, a float is a fraction; default: all.
        limit_predict_batches: predict batches: an int counts them, a float is a fraction; default: all.
    """

    def __init__(
        self,
        *,
        limit_train_batches: int | float | None = None,
        limit_val_batches: int | float | None = None,
        limit_test_batches: int | float | None = None,
        limit_predict_batches: int | float | None = None,
        **kwargs: Any,
    ) -> None:
        given = kwargs.get("callbacks") or []
        given = given if isinstance(given, list) else [given]
        if kwargs.get("enable_model_summary") is False:  # the config's ModelSummary stood in for Lightning's
            kwargs["callbacks"] = given = [c for c in given if not isinstance(c, callbacks.ModelSummary)]
        # The plateau step a resume takes comes before any other callback's epoch start: LightningCLI lists the
        # config's callbacks (LearningRateMonitor, which logs the epoch's lr there) before the app's own, and the
        # curve showed the cut an epoch late.
        kwargs["callbacks"] = given = sorted(given, key=lambda c: not isinstance(c, PlateauStepOnResume))
        bar_off = kwargs.get("enable_progress_bar") is False or kwargs.get("barebones")
        if not bar_off and not any(isinstance(c, ProgressBar) for c in given):
            kwargs["callbacks"] = [*given, TQDMProgressBar(refresh_rate=10)]
        try:
            super().__init__(
                limit_train_batches=limit_train_batches,
                limit_val_batches=limit_val_batches,
                limit_test_batches=limit_test_batches,
                limit_predict_batches=limit_predict_batches,
                **kwargs,
            )
        except RuntimeError as err:  # Lightning's words for it name no option, under a traceback
            if not (twice := re.match(r"Found more than one stateful callback of type `(\w+)`", str(err))):
                raise
            given = kwargs.get("callbacks") or []
            keys = [c.state_key for c in given]
            ours = any(isinstance(c, RunCheckpoint) and keys.count(c.state_key) > 1 for c in given)
            kind = RunCheckpoint.STATE_NAME if twice[1] == RunCheckpoint.__name__ else twice[1]  # --checkpoint's
            interval = " (or its every_n_epochs, every_n_train_steps)" if kind == RunCheckpoint.STATE_NAME else ""
            raise UserError(
                f"--trainer.callbacks: two {kind} callbacks of the same settings"
                f"{' (--checkpoint is one)' if ours else ''}, whose states a checkpoint would keep under one key: "
                f"change one's monitor or mode{interval}, or leave one out"
            ) from err

    run_checkpoint: callbacks.ModelCheckpoint | None = None  # the config's --checkpoint (MNISTCLI sets it)
    made_dirs: tuple[Path, ...] = ()  # the log folders this command created (MNISTCLI and runs add to it)

    @property
    def checkpoint_callback(self) -> callbacks.Checkpoint | None:
        """The run's own ``--checkpoint``: Lightning's is the first in the list, and a ModelCheckpoint
        given in ``--trainer.callbacks`` came before it (the fit then tested that one's best, and a
        stop said there was nothing to resume)."""
        if self.run_checkpoint in self.checkpoint_callbacks:
            return self.run_checkpoint
        return super().checkpoint_callback


def max_time_seconds(max_time: object) -> float | None:
    """``--trainer.max_time`` in seconds as Lightning's Timer reads it (None: no limit); refused where it reads none."""
    try:
        return callbacks.Timer(duration=max_time)._duration  # the Timer has no public reader of it
    except MisconfigurationException:
        # Lightning's words named its Timer, which the user never gave ("`Timer(duration='1h')` is not a valid
        # duration.").
        raise UserError(
            f"--trainer.max_time {max_time}: a duration DD:HH:MM:SS: give 00:01:00:00 for an hour"
        ) from None


def refuse_bad_settings(trainer: Namespace, subcommand: str, test_after_fit: bool = False) -> None:
    """The trainer settings of a command line or config that the app refuses, before anything is built
    (``test_after_fit``: a fit's, which ends in a test)."""
    if trainer.get("enable_checkpointing") is False:  # Lightning's words named no fix
        raise UserError(
            "--trainer.enable_checkpointing false: the run's checkpoints are the config's checkpoint: section, "
            "always there: for none, give --checkpoint.save_top_k 0 --checkpoint.save_last false"
        )
    if trainer.get("logger") in (True, None):  # Lightning's default logger, without a word
        raise UserError(
            f"--trainer.logger {str(trainer.logger).lower().replace('none', 'null')}: Lightning's default "
            "logger would replace the app's, its runs in ./lightning_logs: leave the option out "
            "(--trainer.logger.init_args.save_dir chooses the folder)"
        )
    accelerator = trainer.accelerator
    # Lightning's own message for this one names neither the option nor the fix. (gpu is an Apple
    # GPU too, MPS, where Lightning finds one.)
    mps = accelerator == "gpu" and torch.backends.mps.is_available()
    if accelerator in ("gpu", "cuda") and not torch.cuda.is_available() and not mps:
        raise UserError(
            f"--trainer.accelerator {accelerator}: PyTorch sees no CUDA GPU on this machine: "
            "use --trainer.accelerator cpu, or auto (a GPU when there is one)"
        )
    # Lightning refused it in its own words, one after the other: the logger, then a profiler the
    # user never gave, then the ModelCheckpoint every run has.
    if trainer.get("barebones"):
        raise UserError(
            "--trainer.barebones true: it turns off the logger, checkpoints and profiler, which every run of the "
            "app keeps: leave it out (--trainer.enable_progress_bar false, --trainer.enable_model_summary false "
            "quiet a run)"
        )

    def leaves_its_folder(path: str) -> bool:
        return Path(path).is_absolute() or path.startswith("~") or ".." in Path(path).parts

    loggers = trainer.get("logger") if isinstance(trainer.get("logger"), list) else [trainer.get("logger")]
    for logger in loggers:
        init_args = logger.get("init_args", {}) if isinstance(logger, Namespace | dict) else {}
        # A TensorBoard sub_dir below each run's dir: an absolute one was every run's, and the run's
        # last line ended in a traceback.
        sub_dir = init_args.get("sub_dir")
        if sub_dir and leaves_its_folder(sub_dir):
            raise UserError(
                f"--trainer.logger.init_args.sub_dir {sub_dir}: a folder inside each run's dir: "
                "give a relative one inside it, such as tb"
            )
        # The run's dir is <save_dir>/<name>/<version>: "" or "." was the recipe's folder itself (the run's
        # hparams.yaml and checkpoints/ beside its version_N dirs), ".." the folder above it, an absolute one anywhere.
        version = init_args.get("version")
        if isinstance(version, int) and not isinstance(version, bool) and version < 0:  # version_-3, without a word
            raise UserError(
                f"--trainer.logger.init_args.version {version}: give 0 or more, or a name, such as mine, or leave it "
                "out (a new version_N for every run)"
            )
        if isinstance(version, str) and (not Path(version).parts or leaves_its_folder(version)):
            named = " is empty" if version == "" else f" {version}: names no folder in the recipe's (logs/<name>/)"
            raise UserError(
                f"--trainer.logger.init_args.version{named}: give a name, such as mine, or leave it out "
                "(a new version_N for every run)"
            )
        # The recipe's folder, <save_dir>/<name>: ".." put the runs beside save_dir, where tensorboard --logdir
        # save_dir does not look.
        if isinstance(name := init_args.get("name"), str) and leaves_its_folder(name):
            raise UserError(
                f"--trainer.logger.init_args.name {name}: names no folder in the logger's save_dir: give a name, "
                "such as lenet, or leave it out"
            )
    # Taken without a word, and unused: the run's folder is the logger's (without one, nothing is written).
    if (root := trainer.get("default_root_dir")) is not None and trainer.get("logger") not in (False, []):
        raise UserError(
            f"--trainer.default_root_dir {root}: the run's folder is the logger's: give "
            f"--trainer.logger.init_args.save_dir {root}"
        )
    # Lightning runs no batch, prints nothing and exits 0, leaving an empty run dir.
    stage = {"validate": "val", "test": "test", "predict": "predict"}.get(subcommand)
    if stage and trainer.get(f"limit_{stage}_batches") == 0:
        raise UserError(
            f"--trainer.limit_{stage}_batches 0: {subcommand} would run no batch: "
            "give a number of batches, or a fraction of them (1.0: all)"
        )
    # It trained, then wrote a results.json of the checkpoint's path alone (the README: test/acc, test/loss).
    if subcommand == "fit" and test_after_fit and trainer.get("limit_test_batches") == 0:
        raise UserError(
            "--trainer.limit_test_batches 0: the test that ends the fit would run no batch: give a number "
            "of batches, or --test_after_fit false"
        )
    # Lightning's words named no option and told an int of -1 to give "an int".
    limits = ("limit_train_batches", "limit_val_batches", "limit_test_batches", "limit_predict_batches")
    for name in (*limits, "overfit_batches"):
        value = trainer.get(name)
        if (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and (value < 0 or (isinstance(value, float) and value > 1))
        ):
            raise UserError(
                f"--trainer.{name} {value}: give a number of batches (0 or more), or a fraction of them from 0.0 to "
                "1.0 (1.0: all)"
            )
    # YAML's .nan and .inf are floats. A nan passed the checks here, and Lightning's words for a nan clip
    # value named another call (clip_gradients); for the others they named no option.
    for name in (*limits, "overfit_batches", "val_check_interval", "gradient_clip_val"):
        if isinstance(value := trainer.get(name), float) and not math.isfinite(value):
            raise UserError(f"--trainer.{name} {value}: expected a finite float")
    # A string is a time to Lightning, DD:HH:MM:SS of ints, and its words for another named no option ("Invalid time
    # format for `val_check_interval`: 'nan'"): the words nan and inf, a number in quotes.
    if isinstance(interval := trainer.get("val_check_interval"), str):
        try:
            _parse_time_interval_seconds(interval)
        except MisconfigurationException:
            raise UserError(
                f"--trainer.val_check_interval {interval}: give a number of batches (an int), a fraction of each "
                "epoch (a float, 1.0 at most) or a time, DD:HH:MM:SS"
            ) from None
    # Lightning divides by these without checking them first: a ZeroDivisionError deep in its loops.
    for name in ("accumulate_grad_batches", "check_val_every_n_epoch", "val_check_interval"):
        value = trainer.get(name)
        if isinstance(value, int | float) and value <= 0:
            raise UserError(f"--trainer.{name} {value}: must be greater than 0: give a positive value")
    # Lightning's own default, with a warning lost among its start-up lines: 1000 epochs of MNIST.
    unset = {"max_epochs": (None,), "max_steps": (None, -1), "max_time": (None,), "fast_dev_run": (None, False, 0)}
    if subcommand == "fit" and all(trainer.get(name) in values for name, values in unset.items()):
        raise UserError(
            "fit: no --trainer.max_epochs, max_steps or max_time: Lightning would train 1000 epochs: "
            "give --trainer.max_epochs N (configs/lenet.yaml trains 10; -1: no limit)"
        )
    # Lightning trained no step, printed nothing and exited 0, leaving a run dir of config.yaml alone.
    nothing = {
        "max_epochs": "give 1 or more",
        "max_steps": "give 1 or more, or -1 (no limit)",
        "limit_train_batches": "give a number of batches, or a fraction of them (1.0: all)",
    }
    for option, fix in nothing.items() if subcommand == "fit" else ():
        if (value := trainer.get(option)) == 0 and not isinstance(value, bool):
            raise UserError(f"--trainer.{option} {value}: the fit would train nothing: {fix}")
    # As Lightning refuses it, for any accelerator: "`Trainer(devices='0')` value is not a valid input using cpu".
    if (devices := trainer.get("devices")) in ([], 0, "0"):
        raise UserError(f"--trainer.devices {devices}: a run needs a device: give 1 or more, or auto")
    seconds = max_time_seconds(max_time := trainer.get("max_time"))  # refused where it is no duration, any subcommand
    if subcommand == "fit" and seconds == 0:
        raise UserError(
            f"--trainer.max_time {max_time}: the fit would train nothing: give a duration DD:HH:MM:SS, such as "
            "00:01:00:00 for an hour"
        )
    # Lightning ran no sanity check, without a word.
    if isinstance(steps := trainer.get("num_sanity_val_steps"), int) and steps < -1:
        raise UserError(
            f"--trainer.num_sanity_val_steps {steps}: must be 0 or more, or -1 for every validation batch: give a "
            "number of batches, or 0 for no check before training"
        )
    for unit in ("epochs", "steps"):
        low, high = trainer.get(f"min_{unit}"), trainer.get(f"max_{unit}")
        # Lightning's words named no fix: "`max_epochs` must be a non-negative integer or -1. You passed in -5."
        if isinstance(high, int) and high < -1:
            raise UserError(
                f"--trainer.max_{unit} {high}: must be 0 or more, or -1 for no limit: give a number of {unit}"
            )
        # Lightning takes a negative min as no minimum, without a word.
        if isinstance(low, int) and low < 0:
            raise UserError(
                f"--trainer.min_{unit} {low}: must be 0 or more: give a number of {unit}, or leave it out (no minimum)"
            )
        # Lightning stops at the max without a word about the min.
        if isinstance(low, int) and isinstance(high, int) and 0 <= high < low:
            raise UserError(
                f"--trainer.min_{unit} {low} > --trainer.max_{unit} {high}: the fit would stop after {high}: "
                f"give --trainer.max_{unit} {low} or more"
            )
    # Lightning reads a negative clip value as no clipping and a negative log interval as its
    # absolute value (x % -2 == 0 every other step), both without a word.
    for name, off in (("gradient_clip_val", "no clipping"), ("log_every_n_steps", "no per-step values")):
        value = trainer.get(name)
        if isinstance(value, int | float) and value < 0:
            raise UserError(f"--trainer.{name} {value}: must be 0 or more: give a positive value, or 0 for {off}")


def bf16_only_where_computed(trainer: Namespace) -> None:
    """bf16 wins only where the hardware computes it.

    A CPU without bf16 instructions emulates it: a fast.yaml epoch took 144 s instead of 19-21 s in
    fp32 on a 2-core AVX2 EPYC, LeNet steps 1.4x longer on an AVX-512 Xeon. Like Lightning's own
    16-mixed -> bf16-mixed on a CPU.
    """
    gpu = torch.cuda.is_available() or torch.backends.mps.is_available()
    on_cpu = trainer.accelerator == "cpu" or (trainer.accelerator == "auto" and not gpu)
    asked = str(trainer.precision)
    if asked in ("16", "16-mixed") and on_cpu:  # Lightning's own rule, said in the run's config.yaml
        trainer.precision = "bf16-mixed"
        if native_bf16():  # Lightning's warning of it never comes: the value is replaced before
            rank_zero_warn(
                f"--trainer.precision {asked}: float16 mixed precision runs on a GPU only: running in bf16-mixed, "
                "as Lightning does on a CPU"
            )
    if str(trainer.precision).startswith("bf16") and on_cpu and not native_bf16():
        rank_zero_warn(
            f"--trainer.precision {asked}: this CPU has no bf16 instructions (AVX512-BF16, AMX or "
            "Arm BF16) and would emulate it, many times slower: running in 32-true instead"
        )
        trainer.precision = "32-true"


def refuse_callbacks_the_model_cannot_take(trainer: L.Trainer, model: L.LightningModule) -> None:
    """Lightning's callbacks that need what the app's model has not (tracebacks as the fit began,
    or, pruning, after its first epoch, leaving a run dir without checkpoints), or that undo what
    a run keeps: its batch size, its checkpoints' use."""
    for callback in trainer.callbacks:
        option = f"--trainer.callbacks {type(callback).__name__}"
        if isinstance(callback, callbacks.LearningRateFinder) and callback._update_attr:  # not one that only plots
            raise UserError(
                f"{option}: it sets the model's lr attribute, and the app's learning rate is the optimizer's "
                "(--model.optimizer.init_args.lr): give it update_attr false (the app then says the lr it finds, and "
                "plots it), or leave it out"
            )
        if isinstance(callback, callbacks.LearningRateFinder):
            if callback._num_training_steps < 1:
                raise UserError(
                    f"{option} num_training_steps {callback._num_training_steps}: it tries one lr a step: give it "
                    "steps, such as 100 (its default)"
                )
            # Exponential steps (its default mode) multiply the lr: from 0 it stays 0; linear ones add to it.
            lowest, highest, exponential = callback._min_lr, callback._max_lr, callback._mode == "exponential"
            if not (lowest > 0 if exponential else lowest >= 0) or lowest >= highest:
                raise UserError(
                    f"{option} min_lr {lowest:g}, max_lr {highest:g}: it tries lrs from min_lr up to max_lr: "
                    f"give {'0 <' if exponential else '0 <='} min_lr < max_lr"
                )
        if isinstance(callback, callbacks.BatchSizeFinder):
            raise UserError(
                f"{option}: the run would train at a batch size its config.yaml and checkpoints do not hold: "
                "leave it out, and give --data.batch_size"
            )
        if isinstance(callback, callbacks.SpikeDetection):
            raise UserError(
                f"{option}: Lightning 2.6 cannot restore it from a checkpoint ('SpikeDetection' object has no "
                "attribute 'running'), which the test after fit and any resume do: leave it out"
            )
        if isinstance(callback, callbacks.BackboneFinetuning) and not hasattr(model, "backbone"):
            raise UserError(f"{option}: it unfreezes the model's backbone, and the app's model has none: leave it out")
        if isinstance(callback, callbacks.ModelPruning) and model.hparams.channels_last:
            raise UserError(
                f"{option} flattens weights with view(), which channels-last weights refuse: "
                "add --model.channels_last false"
            )
