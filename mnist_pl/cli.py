"""The command line: LightningCLI with this app's defaults; every value can be changed in config.

Also what a command takes from the checkpoint it is given (the network, the data's settings), the
test that ends a ``fit``, and the last lines that say where a run's files went.
"""

import errno
import functools
import inspect
import itertools
import logging
import os
import random
import re
import sys
import warnings
from pathlib import Path
from typing import Any

import torch
from jsonargparse import ArgumentError, Namespace, lazy_instance
from jsonargparse._actions import _ActionPrintConfig  # its print, deferred: no public way
from lightning.fabric.utilities.seed import max_seed_value, min_seed_value
from lightning.pytorch import callbacks
from lightning.pytorch.callbacks import EarlyStopping
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI, LRSchedulerCallable
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_warn

from mnist_pl import augment, nets, runs, signals
from mnist_pl.callbacks import PredictionWriter, StopOnNonFiniteLoss
from mnist_pl.checkpoints import (
    PlateauStepOnResume,
    RNGStates,
    RunCheckpoint,
    check_readable,
    refuse_a_second_last_ckpt,
    refuse_checkpoints_among_others,
)
from mnist_pl.checkpoints import refuse_bad_settings as refuse_bad_checkpoint_settings
from mnist_pl.data import INT_RANGES, STATS, MNISTDataModule, refuse_own_images_for, trained_settings
from mnist_pl.errors import UserError
from mnist_pl.files import cannot_write, file_above, missing_folders, no_space, remove_empty, unset_variable
from mnist_pl.images import find_images
from mnist_pl.model import MNISTClassifier
from mnist_pl.optim import refuse_another_optimizer
from mnist_pl.optim import refuse_bad_settings as refuse_bad_optim_settings
from mnist_pl.parser import (
    COMMAND_LINE,
    MNISTArgumentParser,
    an_option_of_no_logger,
    callbacks_replaced,
    forget_config_files,
    given_again,
    kept_from_the_config,
    model_not_rebuilt,
    named_where_written,
    not_built,
    null_refused,
    options_and_values,
    refuse_keys_written_twice,
    set_again_by_a_config,
    writer_refused,
)
from mnist_pl.trainer import (
    NoProfiler,  # noqa: F401  (the config.yaml of a run before 2026-12-05 names mnist_pl.cli.NoProfiler)
    Trainer,
    bf16_only_where_computed,
    max_time_seconds,
    no_validation,
    no_validation_images,
    refuse_a_lone_node,
    refuse_callbacks_the_model_cannot_take,
)
from mnist_pl.trainer import refuse_bad_settings as refuse_bad_trainer_settings

# Noise a user cannot act on (message patterns): set by each MNISTCLI, so that they hold in a
# caller's catch_warnings too (pytest's, for one).
_NOISE = (
    # Lightning 2.6 calls a pytree API that newer torch deprecates.
    r".*isinstance\(treespec, LeafSpec\)",
    # In-memory tensors need no DataLoader workers (workers would only copy them).
    r".*does not have many workers",
    # data.EpochSampler resumes an epoch from a checkpoint of its middle where its batches stopped.
    r"You're resuming from a checkpoint that ended before the epoch ended",
    # A checkpoint saved before any validation (--trainer.max_steps 20, limit_val_batches 0) has no
    # val/acc to rank: the monitor was checked before the fit, and its end says no best.ckpt was written.
    r"`ModelCheckpoint\(monitor=.*could not find the monitored key",
    # Under bf16-mixed the weights stay in fp32, which is what the summary counts: its size is right.
    r"Precision bf16-mixed is not supported by the model summary",
    # --trainer.overfit_batches: Lightning takes any sampler but its SequentialSampler for a shuffling
    # one; the validation's does not shuffle.
    r"You requested to overfit but enabled val dataloader shuffling",
    # Under DDP, for the model's values computed by torchmetrics, which has reduced them over all ranks.
    r"It is recommended to use `self.log\('(train/loss|train/acc|val/acc_best)', \.\.\., sync_dist=True\)`",
    # A resumed run writes into its own checkpoint dir on purpose; a new run's dir is always new.
    r"Checkpoint directory .* exists and is not empty",
)


class _LightningNoise(logging.Filter):
    """Lines Lightning prints that a user cannot act on: an advert for its cloud logger, and that the
    config's ModelSummary (max_depth 2) stands in for its default one, on every run; and its LR finder's
    own checkpoint, saved (a `weights_only` of its own call) and restored (said three times)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        own = ("💡 Tip: For seamless cloud logging", "Trainer already configured with", "`weights_only` was not set")
        return not (message.startswith(own) or f"{os.sep}.lr_find_" in message)


_LIGHTNING_NOISE = _LightningNoise()


def _format_warning(
    message: Warning | str, category: type[Warning], filename: str, lineno: int, line: str | None = None
) -> str:
    """This app's own warnings in one line, as its errors: Python's format names the file and
    line that warned, and prints that line of code (``  rank_zero_warn(``) under the message."""
    if Path(filename).parent == Path(__file__).parent:
        return f"warning: {message}\n"
    return _format_others(message, category, filename, lineno, line)


_format_others = warnings.formatwarning  # Lightning's (path: message for its own), or Python's
warnings.formatwarning = _format_warning


def _letters(name: str) -> str:
    """``name`` in lower case without its separators: val_loss, Val.Loss and val/loss are one."""
    return re.sub(r"[\W_]", "", name.lower())


_LOG_DIR_FIX = "make it writable or choose another with --trainer.logger.init_args.save_dir"


_SUBCOMMAND_HELP = {
    "fit": "train a network, and test its best checkpoint; or resume a run (--ckpt_path)",
    "validate": "the loss and accuracy of a checkpoint on the validation split",
    "test": "the loss and accuracy of a checkpoint on the 10,000 test images",
    "predict": "a checkpoint's classes for the test images or your own (--data.predict_path), in a CSV",
}
_CKPT_PATH_HELP = {
    "fit": "resume a run from its checkpoints/last.ckpt, or last: the newest last.ckpt of this config's runs (of "
    "logs/mnist where it names no logger); another checkpoint (a best.ckpt) starts a new run from its weights. "
    "Its model settings, dataset, normalisation and split are taken.",
    **{
        subcommand: f"the checkpoint file (a .ckpt mnist_pl wrote) whose network to {verb}, with its model "
        "settings, dataset, normalisation and split, or best or last: that file of the newest run of this config "
        "(of logs/mnist where it names no logger); without one, the network's random weights."
        for subcommand, verb in (("validate", "validate"), ("test", "test"), ("predict", "predict with"))
    },
}
# Lightning's words for these give its own defaults ("By default it is None"), not the app's.
_APP_DEFAULTS_HELP = {
    "--seed_everything": "the run's seed (default 0: every run of a config draws alike); true draws one and "
    "records it in the run's config.yaml; false seeds nothing.",
    "--weights_only": "load a checkpoint's tensors and plain values only, never code (default true).",
    "--trainer.logger": "where the run's curves, config and checkpoints go: TensorBoard, in "
    "logs/<the logger's name>/version_N (a recipe's file name; mnist where none is named); a CSVLogger writes "
    "metrics.csv.",
    "--trainer.callbacks": "--trainer.callbacks+ X adds a callback to the app's own (ModelSummary, "
    "LearningRateMonitor, ImageLogger); --trainer.callbacks X replaces them.",
    "--trainer.deterministic": "deterministic algorithms, so that a run repeats bit for bit (default true, about "
    "1% of a step on a CPU); warn: a warning, not an error, where an operation has none; false: off.",
    "--checkpoint.dirpath": "where best.ckpt and last.ckpt go (default: the run's own checkpoints/ folder).",
    "--checkpoint.filename": "the best checkpoint's name, with Lightning's fields if wanted ({epoch}, {step}); "
    "default best: best.ckpt.",
    "--checkpoint.monitor": "what ranks the best checkpoint (default val/acc; val/loss, train/loss, ...).",
    "--checkpoint.save_last": "also keep last.ckpt, the latest state, which a resume goes on from (default true).",
}


def _known_modules(option: str, module_name: str) -> str:
    """The end of ``option``'s help: the modules of mnist_pl's own module ``module_name``, not all of torch.nn.

    Named, not held: the parser is reachable from the model (through its optimizer's instantiator),
    and a module object in it made every copy of the model fail (Lightning's weight averaging:
    "cannot pickle 'module' object").
    """
    module = sys.modules[module_name]
    own = [
        f"{module.__name__}.{name}"
        for name, value in vars(module).items()
        if isinstance(value, type) and issubclass(value, torch.nn.Module) and value.__module__ == module.__name__
    ]
    return f", known subclasses: {', '.join(own)}, and any torch.nn.Module ({option}.help CLASS)"


# Options whose value is a file, not of YAML: an image given to predict_path was named (a review).
_FILES_OF_THEIR_OWN = ("--ckpt_path", "--config", "--data.predict_path", "--predictions.output", "--data.data_dir")


def _not_text(command_line: list[str]) -> str:
    """The message for a binary file given to a group's option (``--checkpoint best.ckpt``), which takes a
    YAML file of its options."""
    pairs = [
        word.partition("=")[::2] if "=" in word else (word, value)
        for word, value in itertools.pairwise([*command_line, ""])
    ]
    for option, value in pairs:
        if option.startswith("--") and option not in _FILES_OF_THEIR_OWN and os.path.isfile(value):
            try:
                Path(value).read_text()
            except UnicodeDecodeError:
                group = option.removeprefix("--")
                load = "; a checkpoint to load is --ckpt_path" if value.endswith(".ckpt") else ""
                return f"{option} {value}: not a text file (UTF-8): give a YAML file of {group} options{load}"
    return "a file given is not a text file (UTF-8): give YAML files of options"


# The callbacks of every run but one whose --trainer.callbacks (not +=) replaces them.
_CALLBACKS = [
    {"class_path": "lightning.pytorch.callbacks.ModelSummary", "init_args": {"max_depth": 2}},
    # At its default interval: a schedule stepped per batch (one-cycle) on every step the logger writes.
    {"class_path": "lightning.pytorch.callbacks.LearningRateMonitor"},
    {"class_path": "mnist_pl.callbacks.ImageLogger"},
]


class MNISTCLI(LightningCLI):
    """``fit``/``validate``/``test``/``predict`` for MNIST; ``fit`` ends by testing its best checkpoint."""

    def __init__(self, trainer_defaults: dict | None = None, **kwargs) -> None:
        # LightningCLI's dict form: the app's checks read the words of a command line, and a dict's "config" was
        # dropped without a word (an audit: minimal.yaml's network, optimizer and logs were not used).
        if kwargs.get("args") is not None and not isinstance(kwargs["args"], list | tuple):
            raise UserError(
                f"MNISTCLI(args={type(kwargs['args']).__name__}): give the words of a command line, "
                "MNISTCLI(args=['fit', '--config', 'configs/lenet.yaml', '--trainer.max_epochs', '2'])"
            )
        # LightningCLI's run=False parses without subcommands, and the run dirs, the checks and --test_after_fit
        # (in every recipe) are a subcommand's: it ended in a jsonargparse traceback.
        if kwargs.get("run", True) is False:
            raise UserError(
                "MNISTCLI(run=False): not supported: give the subcommand, MNISTCLI(args=['fit', '--config', ...]), or "
                "build MNISTClassifier, MNISTDataModule and a lightning.Trainer yourself (README: From Python)"
            )
        for message in _NOISE:
            warnings.filterwarnings("ignore", message=message)
        for name in (
            "lightning.pytorch.utilities.rank_zero",
            "lightning.pytorch.trainer.connectors.checkpoint_connector",
        ):
            logging.getLogger(name).addFilter(_LIGHTNING_NOISE)  # once: the same one
        refuse_keys_written_twice()
        trainer_defaults = dict(trainer_defaults or {})
        # Always on, whatever the config's callbacks: without RNGStates a resume draws other dropout
        # masks, without PlateauStepOnResume it skips a plateau schedule's step; without
        # StopOnNonFiniteLoss a diverged run trains on and checkpoints NaN weights.
        always = [RNGStates(), PlateauStepOnResume(), StopOnNonFiniteLoss()]
        trainer_defaults["callbacks"] = [*always, *trainer_defaults.get("callbacks", [])]
        # argparse takes a prefix of an option for the option (--trainer.max_epoch ran a whole fit);
        # jsonargparse gives the main parser's choice to the subcommands'.
        kwargs["parser_kwargs"] = {"allow_abbrev": False, **(kwargs.get("parser_kwargs") or {})}
        forget_config_files()
        self.command_line: list[str] = list(sys.argv[1:] if kwargs.get("args") is None else kwargs["args"])
        self.from_the_checkpoint: set[str] = set()  # the data settings a --ckpt_path gave (_take_the_checkpoints...)
        # A fit's --ckpt_path as read and checked there, for before_fit: read once (a CRC check and a scan of
        # every weight, 6 ms for a LeNet's, more for larger networks).
        self.checkpoint_read: tuple[str, dict[str, Any]] | None = None
        try:
            super().__init__(
                MNISTClassifier,
                MNISTDataModule,
                trainer_class=Trainer,
                seed_everything_default=0,
                auto_configure_optimizers=False,
                parser_class=MNISTArgumentParser,
                save_config_callback=runs.SaveConfig,
                trainer_defaults=trainer_defaults,
                **kwargs,
            )
        # Any of our own errors, while parsing or running: each names an option, whose value may
        # have come from a config file.
        except UserError as err:
            subcommand = self.config.get("subcommand") if hasattr(self, "config") else None
            where = subcommand and named_where_written(str(err), self.command_line, subcommand, err.of_the_class)
            if where:
                raise UserError(where) from err
            raise
        # A full disk under a fit, a validate or a test: a traceback of 150 lines (TensorBoard's writer
        # printed its thread's too), the checkpoints written before it whole (AtomicCheckpointIO).
        except (OSError, RuntimeError) as err:
            full = no_space(err)
            if full is None or getattr(self, "trainer", None) is None:
                raise
            raise UserError(self._no_space_said(full)) from err
        # While the settings are read and the classes built, no handler of Lightning's or the app's is in
        # place yet: a Ctrl-C ended in a traceback of 60 lines. Nothing is written before the subcommand runs.
        except KeyboardInterrupt:
            if self.started:
                raise
            remove_empty(getattr(getattr(self, "trainer", None), "made_dirs", ()))  # the logger's new folders
            # Before the settings are read, the command line's: "mnist_pl: stopped ..." for a fit (an audit).
            typed = next((word for word in self.command_line if word in self.subcommands()), "mnist_pl")
            subcommand = (self.config.get("subcommand") if hasattr(self, "config") else None) or typed
            raise signals.InterruptedRunError(
                f"{subcommand}: stopped by Ctrl-C as it started, nothing written: run it again", "Ctrl-C"
            ) from None

    started = False  # whether the subcommand runs
    fit_ended: str | None = None  # in a fit's closing test: what the fit kept, how to test it

    def _no_space_said(self, full: OSError) -> str:
        """What a full disk stopped, and how to go on: a fit as from a stop, its checkpoints whole."""
        where = full.filename or runs.own_log_dir(self.trainer)
        limit = full.errno == errno.EFBIG  # a file of the largest size `ulimit -f` allows, not a full disk
        said = f"{where}: cannot be written ({full.strerror}): " + (
            "raise the limit on a file's size (ulimit -f)" if limit else "free some space"
        )
        if self.subcommand != "fit":
            return f"{self.subcommand}: {said}, then run it again"
        # In its closing test, which restored best.ckpt's checkpoint bookkeeping: stopped_fit would read that.
        if self.fit_ended is not None:
            return f"fit: {said}; {self.fit_ended}"
        last = getattr(self.trainer.checkpoint_callback, "last_model_path", "")
        if last and not Path(last).is_file():  # Lightning names it before it is written: its first
            return f"fit: {said}, then run it again"
        return f"{said}; {signals.stopped_fit(self.trainer, 'the size limit' if limit else 'the full disk')}"

    def _run_subcommand(self, subcommand: str) -> None:
        self.started = True
        super()._run_subcommand(subcommand)

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        # Checkpoints of the best epoch by val/acc and of the last epoch, in the run's version dir.
        parser.add_lightning_class_args(RunCheckpoint, "checkpoint")
        parser.set_defaults(
            {
                "model.net": {"class_path": "mnist_pl.nets.LeNet"},
                "checkpoint.monitor": "val/acc",
                "checkpoint.mode": "max",
                "checkpoint.filename": "best",
                "checkpoint.save_last": True,
                "trainer.deterministic": True,
                "trainer.plugins": {"class_path": "mnist_pl.checkpoints.AtomicCheckpointIO"},
                "trainer.profiler": {"class_path": "mnist_pl.trainer.NoProfiler"},
                "trainer.logger": lazy_instance(
                    TensorBoardLogger, save_dir="logs", name="mnist", default_hp_metric=False
                ),
                "trainer.callbacks": _CALLBACKS,
            }
        )

    def _add_subcommands(self, parser: LightningArgumentParser, **kwargs) -> None:
        # A subcommand's parser takes jsonargparse about a fifth of a second to build (it reads the Trainer's,
        # the model's and the data module's signatures), and LightningCLI builds all four: a command line that
        # starts with its subcommand gets that one alone (a refused fit: 0.43 -> 0.24 s). Without one (--help,
        # a -c file first, a mistyped word) all four, as Lightning lists them.
        typed = self.command_line[0] if self.command_line else None
        if typed in LightningCLI.subcommands():
            self.subcommands = lambda: {typed: LightningCLI.subcommands()[typed]}  # this instance's, for a moment
        try:
            super()._add_subcommands(parser, **kwargs)
        finally:
            vars(self).pop("subcommands", None)
        # Lightning lists each by its docstring's first line, cut mid-sentence ("make sure you never run on your").
        for listed in parser._subcommands_action._choices_actions:
            listed.help = _SUBCOMMAND_HELP[listed.dest]

    def _prepare_subcommand_parser(self, klass: type, subcommand: str, **kwargs) -> LightningArgumentParser:
        # Options of one subcommand only; LightningCLI's public hook cannot tell subcommands apart.
        # argparse prints the usage line before every parse error; generated, it lists all ~80
        # options over 80 lines and buries the one-line error. `fit --help` still lists them all.
        kwargs.setdefault("usage", "%(prog)s [options]")
        # Lightning's is its method's docstring's first line, cut mid-sentence ("make sure you never run on your").
        kwargs["description"] = _SUBCOMMAND_HELP[subcommand]
        parser = super()._prepare_subcommand_parser(klass, subcommand, **kwargs)
        cut = inspect.getdoc(getattr(klass, subcommand)).split("\n")[0].rstrip(".")
        for group in parser._action_groups:  # the method's own options (--ckpt_path), under that line too
            if group.title and group.title.startswith(cut):
                group.title = _SUBCOMMAND_HELP[subcommand]
        # Every subcommand takes it, so that a recipe (configs/lenet.yaml) is a valid --config for
        # validate/test/predict too; only fit acts on it.
        words = "test the best checkpoint when fit ends." if subcommand == "fit" else "fit's: taken in a recipe."
        parser.add_argument("--test_after_fit", type=bool, default=True, help=words)
        if subcommand == "predict":  # --predictions.output: where the CSV goes
            parser.add_lightning_class_args(PredictionWriter, "predictions")
        # A checkpoint is a pickle: only tensors and plain types may be unpickled, never code.
        parser.set_defaults(weights_only=True)
        # Lightning's help offers "best", "hpc" and "registry", and a previous fit in this process.
        parser._option_string_actions["--ckpt_path"].help = _CKPT_PATH_HELP[subcommand]
        for option, words in _APP_DEFAULTS_HELP.items():
            parser._option_string_actions[option].help = words
        # jsonargparse lists every torch.nn.Module it can import as a known subclass: 670 lines each.
        for option, module in (("--model.net", nets.__name__), ("--data.augment", augment.__name__)):
            parser._option_string_actions[option].extra_help = functools.partial(_known_modules, option, module)
        # jsonargparse leaves out the argument a callable type supplies (the optimizer a schedule is called with)
        # only where the type is not Optional: --model.scheduler.help StepLR listed --model.scheduler.optimizer
        # as required, which a config must not give.
        parser._option_string_actions["--model.scheduler.help"]._typehint = LRSchedulerCallable
        return parser

    def parse_arguments(self, parser: LightningArgumentParser, args: Any) -> None:
        # The subcommand is the first word that is not an option of the main parser or its value.
        COMMAND_LINE[:] = self.command_line  # args, as __init__ read them
        words, options = iter(enumerate(self.command_line)), []  # options: the subcommand's words
        for i, word in words:
            if word in ("-c", "--config"):
                next(words, None)
            elif not word.startswith("-"):
                parser.subcommand_parser = self._parser(word) if word in self.subcommands() else None
                options = self.command_line[i + 1 :]
                break
        if refused := an_option_of_no_logger(options):
            (parser.subcommand_parser or parser).error(refused)
        # --print_config waits for the checks below and for the checkpoint's settings (_parse_ckpt_path):
        # printed while parsing, it showed the default network of a `test --ckpt_path`, not the checkpoint's.
        with _ActionPrintConfig.skip_print_config():
            try:
                super().parse_arguments(parser, args)
            except UnicodeDecodeError as err:  # jsonargparse reads a group's file as text: a traceback
                parser.error(_not_text(self.command_line), err)
        subcommand: str = self.config.subcommand  # required: the parse ended without one
        if refused := set_again_by_a_config(options, subcommand):
            self._parser(subcommand).error(refused)
        # Every subcommand takes them, for a recipe's sake (_prepare_subcommand_parser; the data module's): typed
        # for another, they did nothing (test of --data.predict_path digits/ tested MNIST's test split; an audit).
        for option, only, why in (
            ("--test_after_fit", "fit", "runs no fit"),
            ("--data.predict_path", "predict", "runs on the dataset's own split"),
        ):
            typed = [value for given, value in options_and_values(options) if given == option]
            if subcommand != only and typed:
                if option == "--data.predict_path" and typed[-1] == "null":  # a recipe's path undone
                    continue
                self._parser(subcommand).error(
                    f"{option} {typed[-1]}: only {only} acts on it ({subcommand} {why}): leave it out"
                )
        if refused := given_again(options, ("--ckpt_path", "--data.predict_path", "--predictions.output")):
            more = " (a folder's subfolders are read too, or quote a glob)" if "predict_path" in refused else ""
            self._parser(subcommand).error(refused + more)
        config = self.config[subcommand]
        for message in kept_from_the_config(options, config):
            rank_zero_warn(message)
        if replaced := callbacks_replaced(options, config, _CALLBACKS):
            rank_zero_warn(replaced)
        # Lightning refuses a seed numpy cannot take only when it seeds, in words that name no option. The data
        # module's ranges (MNISTDataModule checks them too) are checked here as well, for the parser's usage line
        # with the error (any batch larger than its split is the whole split).
        ranges = {
            "seed_everything": (min_seed_value, max_seed_value + 1),
            **{f"data.{name}": span for name, span in INT_RANGES.items()},
        }
        for option, (low, high) in ranges.items():
            value = config.get(option)
            if isinstance(value, int) and not isinstance(value, bool) and not low <= value < high:
                self._parser(subcommand).error(f"--{option} {value}: expected an int from {low} to {high - 1}")
        # Values jsonargparse lets through: a null from a file, a TensorBoard writer's untyped arguments.
        own_classes = {"data": MNISTDataModule, "model": MNISTClassifier}
        if refused := null_refused(config, own_classes) or writer_refused(config):
            self._parser(subcommand).error(refused)
        self._expand_paths(subcommand, config)
        seed = config.get("seed_everything")
        if seed is True:
            # "True to use a random seed", says LightningCLI's help; Lightning 2.6 seeds 0 for it. A
            # drawn seed is written into the run's config.yaml, like any other. The DDP processes Lightning
            # starts take rank 0's, which it hands them: each drew its own, not the one config.yaml holds.
            launched = os.environ.get("LOCAL_RANK", "0") != "0" and "PL_GLOBAL_SEED" in os.environ
            drawn = int(os.environ["PL_GLOBAL_SEED"]) if launched else random.SystemRandom().randrange(2**32)
            config["seed_everything"] = drawn
        elif seed is False:
            # An earlier run of this process left its seed there, which Lightning seeds DDP's processes
            # with, and the HPARAMS tab would show as this run's.
            os.environ.pop("PL_GLOBAL_SEED", None)
        if seed is False and subcommand == "fit":  # Lightning seeds nothing, without a word
            rank_zero_warn(
                "--seed_everything false: nothing is seeded, and no seed recorded: this fit cannot be repeated "
                "(true draws a seed and records it in the run's config.yaml)"
            )

    def _expand_paths(self, subcommand: str, config: Namespace) -> None:
        """The config's paths with ``~`` and ``$VAR`` expanded, once for all, as a shell does on a command line.

        No shell expands a config file, nor ``~`` after ``=``, and each reader expanded its own way or
        not at all: TensorBoardLogger expands its log_dir only, where the app and the checkpoints took
        the save_dir as written (a folder named "~" in the current one; a failed run removed the
        expanded dir, another run's); Lightning a checkpoint folder's ``~``, not its ``$VAR``
        (``dirpath: $SCRATCH/ckpts`` went to a folder named "$SCRATCH"); torchvision a data folder's
        ``~`` only; a checkpoint's ``~`` was "no such file", ``output: $OUT/p.csv`` a folder named
        "$OUT", ``predict_path: $DIGITS/*.png`` matched nothing.
        """
        loggers = config.trainer.get("logger")
        for logger in loggers if isinstance(loggers, list) else [loggers]:
            if isinstance(logger, Namespace) and isinstance(save_dir := logger.get("init_args.save_dir"), str):
                logger.init_args.save_dir = self._expanded(subcommand, "trainer.logger.init_args.save_dir", save_dir)
        # What each path names, and whether this subcommand uses it: an unset variable is refused only
        # there, so that a config shared between machines still predicts where its folders are not.
        paths = {
            "ckpt_path": ("file", True),
            "checkpoint.dirpath": ("folder", subcommand == "fit"),
            "data.data_dir": ("folder", not (subcommand == "predict" and config.get("data.predict_path"))),
            "predictions.output": ("file", True),
            "data.predict_path": ("path", subcommand == "predict"),
        }
        for option, (thing, used) in paths.items():
            if isinstance(path := config.get(option), str):
                config[option] = self._expanded(subcommand, option, path, used, thing)

    def _expanded(self, subcommand: str, option: str, path: str, used: bool = True, thing: str = "folder") -> str:
        """``path`` with its ``~`` and ``$VAR`` expanded, as the shell would have done on a command line."""
        expanded = os.path.expanduser(os.path.expandvars(path))
        if used and (unset := unset_variable(path)):
            self._parser(subcommand).error(f"--{option} {path}: {unset} is not set: set it, or give the {thing} itself")
        # So does ~name of no such user (pathlib's expanduser a RuntimeError).
        if used and expanded.startswith("~") and not os.path.exists(expanded):
            user = expanded.split(os.sep)[0]
            self._parser(subcommand).error(f"--{option} {path}: {user} is no user's home folder here: check the path")
        return expanded

    def before_fit(self) -> None:
        # A new run claims its own version dir; a resume goes on in the run of its checkpoint.
        ckpt_path, logger = self.config_init.fit.ckpt_path, self.trainer.logger
        run_logger = isinstance(logger, TensorBoardLogger | CSVLogger)  # under fast_dev_run: Lightning's stand-in
        self.model.forks_a_run = bool(ckpt_path) and run_logger and not runs.resumes_its_run(logger, ckpt_path)
        read, self.checkpoint_read = self.checkpoint_read, None  # not held through the fit
        if ckpt_path and not self.model.forks_a_run:
            checkpoint = read[1] if read is not None and read[0] == ckpt_path else check_readable(ckpt_path)
            self.trainer.checkpoint_callback.refuse_another_keeping(checkpoint)
        self.claimed_run = runs.place_run(self.trainer, ckpt_path)

    def _before_evaluating(self) -> None:
        ckpt_path = self.config_init[self.subcommand].ckpt_path
        # Without a checkpoint, validate/test/predict run the network as built: random weights.
        if ckpt_path is None:
            rank_zero_warn(
                f"{self.subcommand}: no --ckpt_path, so the network has random weights: "
                "give --ckpt_path logs/<name>/version_N/checkpoints/best.ckpt for a trained one"
            )
        self.claimed_run = runs.place_evaluation(self.trainer, self.subcommand, ckpt_path)

    before_validate = before_test = before_predict = _before_evaluating

    def _evaluate(self, **kwargs) -> None:
        logs = self.subcommand != "predict"  # predict logs nothing: its checkpoint not read for a step
        with runs.at_the_checkpoints_step(self.trainer, kwargs.get("ckpt_path") if logs else None):
            signals.evaluate(self.trainer, self.subcommand, self.claimed_run, **kwargs)

    validate = test = predict = _evaluate

    def fit(self, model: MNISTClassifier, **kwargs) -> None:
        signals.fit(self.trainer, model, claimed=self.claimed_run, **kwargs)

    def _after_evaluating(self) -> None:
        # Said as a fit says where its run is: the results and pictures went into the run (test_0) or a new one.
        if self.trainer.fast_dev_run or not self.trainer.loggers:
            return  # nothing written
        log_dir = self.trainer.log_dir  # every rank: under DDP a broadcast from rank 0
        if self.trainer.is_global_zero:
            stage = "val" if self.subcommand == "validate" else "test"
            self._write_results(Path(log_dir) / "results.json", stage, self.config_init[self.subcommand].ckpt_path)
            see = self._tensorboard_command()
            print(f"\nIts results and pictures are in {log_dir}" + (f": {see}" if see else ""))

    after_validate = after_test = _after_evaluating

    def _write_results(self, path: Path, stage: str, ckpt_path: str | None) -> None:
        metrics = self.trainer.callback_metrics.items()
        results = {name: float(value) for name, value in metrics if name.startswith(f"{stage}/")}
        runs.write_results(path, results, ckpt_path)

    def _tensorboard_command(self) -> str | None:
        tensorboard = runs.tensorboard_of(self.trainer)
        return None if tensorboard is None else f"tensorboard --logdir {tensorboard.save_dir}"

    def after_predict(self) -> None:
        runs.drop_empty_event_files(self.trainer)
        failed = self.datamodule.predict_errors
        if failed and not self.trainer.is_global_zero:  # under DDP: the same files failed in every process
            sys.exit(1)
        if failed:
            raise UserError(f"{len(failed)} file(s) could not be read (listed above): the others were predicted")

    def _parse_ckpt_path(self) -> None:
        # Lightning's parse of the checkpoint's model settings would print --print_config (and exit,
        # saying the parse failed) before the checks and data settings that follow it.
        with _ActionPrintConfig.skip_print_config():
            self._take_the_checkpoints_settings()
        _ActionPrintConfig.print_config_if_requested(self.parser, self.config)

    def _take_the_checkpoints_settings(self) -> None:
        # LightningCLI reads the checkpoint's hyperparameters first (weights_only); a missing or
        # broken file would end there in a traceback, or be skipped and fail later in one.
        subcommand = self.config.subcommand
        ckpt_path = self.config[subcommand].get("ckpt_path")
        if ckpt_path == "registry" or str(ckpt_path).startswith("registry:"):
            raise UserError(
                f"--ckpt_path {ckpt_path}: Lightning's online model registry is not used here: give a .ckpt file"
            )
        if ckpt_path == "last" or (ckpt_path == "best" and subcommand != "fit"):
            # Lightning's words for this process's own checkpoints, and a new process has none: the
            # newest of this config's runs (a fit resumes its last.ckpt).
            config = self.config[subcommand]
            found = runs.find_run_checkpoint(config.trainer, config.get("config"), ckpt_path, subcommand)
            ckpt_path = config.ckpt_path = str(found) if found else ckpt_path
        if ckpt_path == "best" or (ckpt_path == "last" and subcommand != "fit"):
            # Unresolved (no logger of runs, a debugging run): "last" would run random weights, "best"
            # fail saying ModelCheckpoint cannot save a best.
            raise UserError(
                f"--ckpt_path {ckpt_path}: {subcommand} needs a checkpoint file: "
                "give logs/<name>/version_N/checkpoints/best.ckpt (or last.ckpt)"
            )
        if ckpt_path == "":
            raise UserError('--ckpt_path "": empty: give the path of a .ckpt file')  # "" in a file: named by it
        if not ckpt_path or ckpt_path in ("last", "hpc"):
            if subcommand == "fit" and ckpt_path:  # Lightning's own "last" (another logger), or "hpc"
                self._refuse_a_fit_lightning_resumes_wrongly(ckpt_path, {})
            super()._parse_ckpt_path()
            return
        checkpoint = check_readable(ckpt_path)
        if subcommand == "fit":
            self.checkpoint_read = (ckpt_path, checkpoint)
        given = self.config[subcommand].model.clone()
        # A checkpoint of another version (a network class since renamed, an argument since dropped)
        # failed in the parser's usage, its error and Lightning's "Parsing of ckpt_path
        # hyperparameters failed!", blaming a --model.net the command line did not have.
        self.parser.exit_on_error = False
        try:
            super()._parse_ckpt_path()
        except ArgumentError as err:
            raise UserError(model_not_rebuilt(ckpt_path, err)) from err
        finally:
            self.parser.exit_on_error = True
        self._refuse_model_settings_the_checkpoint_replaced(subcommand, given)
        trained = trained_settings(checkpoint, ckpt_path)
        if subcommand == "validate" and trained.get("val_size") == 0:  # first: another val_size given is refused too
            raise UserError(
                f"--ckpt_path {ckpt_path}: trained on all 60,000 training images (--data.val_size 0), it has no "
                f"validation images it did not train on: test it, python -m mnist_pl test --ckpt_path {ckpt_path}"
            )
        self._take_the_checkpoints_data_settings(subcommand, trained)
        trainer = self.config[subcommand].trainer
        # As the fit trained and tested it (model.on_save_checkpoint), unless typed: another recipe's config, whose
        # model the checkpoint's replaces, gave its own (fast.yaml's bf16-mixed to an fp32 LeNet; an audit).
        if (
            subcommand != "fit"
            and not self._typed("--trainer.precision")
            and isinstance(checkpoint.get("precision"), str)
        ):
            trainer.precision = checkpoint["precision"]
        if subcommand == "fit":
            self._refuse_a_fit_lightning_resumes_wrongly(ckpt_path, checkpoint)

    def _refuse_a_fit_lightning_resumes_wrongly(self, ckpt_path: str, checkpoint: dict[str, Any]) -> None:
        if checkpoint and "optimizer_states" not in checkpoint:  # Lightning's KeyError as the fit started
            raise UserError(
                f"--ckpt_path {ckpt_path}: a checkpoint of the weights alone (save_weights_only), without the "
                "optimizer state a fit resumes: give a whole one (a run's last.ckpt), or test, predict or export "
                "this one"
            )
        if checkpoint and not {"global_step", "loops"} <= checkpoint.keys():  # a KeyError traceback (a review)
            raise UserError(
                f"--ckpt_path {ckpt_path}: no training progress in it (its loops and global_step, left out: edited?), "
                "which a fit goes on from: give a whole one (a run's last.ckpt), or test, predict or export this one"
            )
        trainer = self.config.fit.trainer
        # Lightning counts an epoch done once its end hooks ran: "processed" < "ready" inside one.
        progress = checkpoint.get("loops", {}).get("fit_loop", {}).get("epoch_progress", {}).get("current", {})
        done, mid_epoch = progress.get("processed", 0), progress.get("processed", 0) < progress.get("ready", 0)
        # From a checkpoint at max_epochs it trained nothing, tested again and added the files of a
        # resume to the run, exit status 0.
        max_epochs = trainer.get("max_epochs")
        if isinstance(max_epochs, int) and progress and 0 <= max_epochs <= done:  # progress: a file read
            raise UserError(
                f"--trainer.max_epochs {max_epochs}: {ckpt_path} has trained {done} epoch(s) already, so this fit "
                f"would train nothing: give --trainer.max_epochs {done + 1} or more"
            )
        # The same from a run whose --trainer.max_time ran out: Lightning's Timer goes on from the time it saved.
        elapsed = checkpoint.get("callbacks", {}).get("Timer", {}).get("time_elapsed", {}).get("train")
        max_time = trainer.get("max_time")
        duration = max_time_seconds(max_time)  # None: no limit
        if isinstance(elapsed, float) and duration is not None and elapsed >= duration:
            raise UserError(
                f"--trainer.max_time {max_time}: {ckpt_path} has trained for {elapsed:.1f} s already, so this fit "
                "would train nothing: give a longer --trainer.max_time (it counts the whole run's training)"
            )
        # Lightning 2.6 treats a fit with max_steps as always restarting mid-epoch: from a checkpoint
        # written at an epoch's end (all but those of a shorter val_check_interval, a stop after a
        # batch), it ran that finished epoch again without a batch, logged NaN for its training loss
        # and counted it as one more epoch. From the middle of an epoch it resumes right.
        max_steps = trainer.get("max_steps")
        if max_steps not in (None, -1) and not mid_epoch:
            raise UserError(
                f"--trainer.max_steps {max_steps} with --ckpt_path: Lightning 2.6 resumes a step-limited fit "
                "wrongly (it runs the checkpoint's finished epoch again): give --trainer.max_steps -1 and a "
                "--trainer.max_epochs"
            )

    # What the network's inputs are (the dataset, the normalisation) and which images it never trained
    # on (the split). LightningCLI takes only the model's settings from a checkpoint: tested with the
    # default normalisation, a network trained with another scored 87.5% instead of 92%, without a
    # word. Which settings, in which order: data.TRAINED_SETTINGS.
    def _take_the_checkpoints_data_settings(self, subcommand: str, trained: dict[str, Any]) -> None:
        """The checkpoint's data settings where none were given, or where an evaluation's --config gave
        another, as for the model's; one typed that differs is refused in one line, as is a fit's --config's."""
        data, defaults = self.config[subcommand].data, self._parser(subcommand).get_defaults().data
        for key in trained:
            stats = dict(zip(("mean", "std"), STATS.get(data.dataset, (None, None)), strict=True))
            given, theirs = data.get(key), trained[key]
            said, typed = f"--data.{key} {'null' if given is None else given}", self._typed(f"--data.{key}")
            own = stats.get(key)  # a mean or std of null is the dataset's own
            differs = (own if given is None else given) != (own if theirs is None else theirs)
            # `test --config another_run/config.yaml --ckpt_path ...` was refused ("leave out" what no option gave).
            in_a_file = not typed and named_where_written(said, self.command_line, subcommand, False) is not None
            told = f"the dataset's own {key}" if theirs is None else theirs
            if (given == defaults.get(key) and not typed) or (in_a_file and subcommand != "fit"):
                if in_a_file and differs:
                    rank_zero_warn(
                        f"{said} (from a --config): the checkpoint was trained with {told}, and {subcommand} keeps it"
                    )
                data[key] = theirs
                self.from_the_checkpoint.add(key)
            elif differs:
                fix = f"leave out --data.{key}"
                if in_a_file:
                    fix = f"give --data.{key} {'null' if theirs is None else theirs} after it, or train a new run"
                raise UserError(
                    f"{said}: the checkpoint was trained with {told}, and a run from a checkpoint keeps it: {fix}"
                )

    def _typed(self, *options: str) -> bool:
        """Whether one of ``options`` is on the command line: typed, a value equal to its default is given."""
        return any(word.partition("=")[0] in options for word in self.command_line)

    def _refuse_model_settings_the_checkpoint_replaced(self, subcommand: str, given: Namespace) -> None:
        # LightningCLI rebuilds the model from the checkpoint's hyperparameters, over what the config
        # or command line said: another net or lr given with --ckpt_path was dropped without a word.
        defaults = self._parser(subcommand).get_defaults().model
        rebuilt = self.config[subcommand].model

        def typed(key: str) -> bool:
            option = f"--model.{key.removesuffix('.class_path')}"  # --model.optimizer, --model.optimizer.lr
            return self._typed(option, option.replace(".init_args.", "."), f"--model.{key}")

        # How the network runs, not what it learned: this run's own, given or not, never the checkpoint's
        # (a run resumed on a CPU may leave out the graphs a GPU run used, and one on a GPU add them).
        for key in ("compile", "cuda_graphs"):
            rebuilt[key] = given.get(key)
        # How its weights are laid out: the checkpoint's, or typed, this run's (it was refused as another model).
        if typed("channels_last"):
            rebuilt["channels_last"] = given.get("channels_last")

        leaves = given.keys()  # a jsonargparse Namespace: dotted keys of every leaf; it cannot be iterated

        def said(key: str) -> str:
            return f"--model.{key.removesuffix('.class_path')} {given.get(key)}"

        def a_file_writes(key: str) -> bool:
            """Whether a file writes it itself."""
            return bool(named_where_written(said(key), self.command_line, subcommand, key.endswith("class_path")))

        def in_a_file(key: str) -> bool:
            """Whether a file set it, or the class it is an argument of (whose other arguments are defaults)."""
            if a_file_writes(key):
                return True
            group = key.rpartition(".init_args.")[0]
            # Typed by its own option, after a file that named its class: the typed value (a test of a run
            # with --model.optimizer.lr 0.5 after its config ran without a word).
            return bool(group) and not typed(key) and in_a_file(f"{group}.class_path")

        # A value equal to the default counts where typed or written in a file: `--model.optimizer Adam` on a
        # resume of an SGD run went on with SGD, status 0; lenet.yaml's LeNet (the default) for another
        # recipe's run was that run's network, without a word. One a file leaves out is the checkpoint's (its
        # recipe's resume of a run trained with a weight_decay typed was refused; a review).
        replaced = [
            key
            for key in leaves
            if given.get(key) != rebuilt.get(key)
            and (given.get(key) != defaults.get(key) or typed(key) or a_file_writes(key))
        ]
        if subcommand != "fit":
            # An evaluation runs the checkpoint's model, whatever a --config says: `test --config my.yaml
            # --ckpt_path best` of a run trained with another lr was refused, and nothing typed could fix it.
            # Another network in the file (another recipe's config) is said: the run's network is not it.
            in_files = [key for key in replaced if in_a_file(key)]
            if nets := [key for key in in_files if key.startswith("net.")]:
                key = next((k for k in nets if k.endswith("class_path")), nets[0])
                theirs = "is" if key.endswith("class_path") else f"has {key.rpartition('.')[2]}"
                rank_zero_warn(
                    f"{said(key)} (from a --config): the checkpoint's network {theirs} {rebuilt.get(key)}, "
                    f"and {subcommand} runs it as it was trained"
                )
            replaced = [key for key in replaced if key not in in_files]
        if not replaced:
            return
        key = next((k for k in replaced if k.endswith("class_path")), replaced[0])
        # A class's own arguments go with it: `--model.net FastCNN` is one setting to leave out, not 1 + its arguments.
        classes = [k.removesuffix("class_path") for k in replaced if k.endswith("class_path")]
        n = len([k for k in replaced if typed(k) or not any(k.startswith(f"{c}init_args.") for c in classes)])
        fix = "leave out " + ("the model setting that differs" if n == 1 else f"the {n} model settings that differ")
        run = runs.run_of(self.config[subcommand].ckpt_path)
        where = named_where_written(said(key), self.command_line, subcommand, key.endswith("class_path")) or ""
        written = Path(where.partition(": ")[0])
        if run is not None and written.name.startswith("config") and written.resolve().parent == run.resolve():
            # The run's own config, edited since: "give the run's own" named the file given (an audit).
            fix = f"its {written.name} was edited since the run: put back {rebuilt.get(key)}"
        elif in_a_file(key) and run is not None:  # what it names cannot be left out of the command line
            fix += f" (a --config sets it: give the run's own, {run / 'config.yaml'})"
        if subcommand == "fit":
            fix += ", or train a new run without --ckpt_path"
        raise UserError(
            f"{said(key)}: the checkpoint's model has {rebuilt.get(key)}, and a run from a checkpoint keeps the "
            f"model it was trained with: {fix}",
            of_the_class=key.endswith("class_path"),
        )

    def before_instantiate_classes(self) -> None:
        trainer, data = self.config[self.subcommand].trainer, self.config[self.subcommand].data
        # As the data module refuses them (from Python too), but before the model loads, in one process, and
        # naming the checkpoint that gave the dataset.
        if self.subcommand == "predict" and (spec := data.get("predict_path")):
            named = f"the checkpoint was trained on {data.dataset}" if "dataset" in self.from_the_checkpoint else None
            refuse_own_images_for(data.dataset, spec, named)
            find_images(spec)  # a path of nothing, refused: its line came after the checkpoint's lines of loading
        # All 60,000 training images, none held out: Lightning would look for validation batches that are not there.
        # Before the trainer's checks: a run's config.yaml has limit_val_batches 0 too, refused for validate.
        if data.get("val_size") == 0:
            self._refuse_validating_no_images(trainer)
        refuse_bad_trainer_settings(trainer, self.subcommand, self.config[self.subcommand].test_after_fit)
        refuse_bad_checkpoint_settings(self.config[self.subcommand].get("checkpoint") or {}, self.subcommand)
        bf16_only_where_computed(trainer)

    def _refuse_validating_no_images(self, trainer: Namespace) -> None:
        """A val_size of 0 in a command that would validate: test and predict read other splits."""
        if self.subcommand == "validate":
            raise UserError(
                "--data.val_size 0 holds out no validation images: validate needs some: give a val_size, such as 5000"
            )
        if self.subcommand != "fit":
            return
        # From a checkpoint of one, its 0 (another val_size is refused): "give a val_size" was no fix (a review).
        off, new_split = no_validation_images(self.config.fit.get("ckpt_path") is not None)
        if trainer.get("limit_val_batches") != 0:
            raise UserError(
                f"{off}: give --trainer.limit_val_batches 0 as well (a fit without validation, which tests its last "
                f"weights), or {new_split}"
            )
        for option in ("fast_dev_run", "overfit_batches"):
            if trainer.get(option) not in (None, False, 0):  # each sets Lightning's limit_val_batches its own way
                raise UserError(
                    f"{off}, and --trainer.{option} validates whatever --trainer.limit_val_batches says: leave it out, "
                    f"or {new_split}"
                )

    def instantiate_classes(self) -> None:
        try:
            super().instantiate_classes()
        except ValueError as err:
            # A class of the config that fails as it is built (a callback's bad argument, a logger's
            # package not installed): jsonargparse's 20 lines under a traceback, naming no option.
            if built := not_built(str(err), self.config[self.subcommand]):
                raise UserError(built) from err
            raise

    def after_instantiate_classes(self) -> None:
        super().after_instantiate_classes()
        self.trainer.run_checkpoint = self.config_init[self.subcommand].checkpoint
        refuse_a_lone_node(self.trainer)
        # Lightning's config writer asserted on it (--trainer.fast_dev_run: Lightning's stand-in, which writes nothing).
        first = self.trainer.loggers[0] if self.trainer.loggers and not self.trainer.fast_dev_run else None
        if first is not None and first.save_dir is None:
            raise UserError(
                f"--trainer.logger: the first logger, {type(first).__name__}, keeps no folder (its save_dir is None), "
                "where a run keeps its config and checkpoints: put a TensorBoardLogger or CSVLogger first"
            )
        if self.subcommand == "fit":
            # Without a logger Lightning would write config.yaml and checkpoints/ into the current
            # folder, and LearningRateMonitor then stops the fit in its first step.
            if not self.trainer.loggers:
                raise UserError(
                    "--trainer.logger false: a fit keeps its config, checkpoints and curves in the logger's run dir "
                    "(logs/<name>/version_N): keep the logger; --trainer.logger.init_args.save_dir chooses the folder"
                )
            refuse_bad_optim_settings(self.model)  # in one line, before the run dir exists
            # A checkpoint whose hyperparameters name its optimizer is checked with the other model settings.
            if self.checkpoint_read is not None and "optimizer" not in self.checkpoint_read[1].get(
                "hyper_parameters", {}
            ):
                refuse_another_optimizer(self.model, self.checkpoint_read[1], self.checkpoint_read[0])
            self._check_monitored_metrics()
            # A folder of its own choosing, empty or new: Lightning wrote best-v1.ckpt beside another run's
            # best.ckpt, or into another run's own dir. A resume from the last.ckpt there goes on in it;
            # a fit from its best.ckpt is a new run, and so is one from a run's own checkpoints/last.ckpt
            # that the run does not resume in place (another logger name or version): Lightning took that
            # run's best.ckpt and last.ckpt for this one's, and wrote over them.
            dirpath, ckpt_path = self.trainer.checkpoint_callback.dirpath, self.config.fit.ckpt_path
            in_use = dirpath is not None and Path(dirpath).is_dir() and any(Path(dirpath).iterdir())
            goes_on = ckpt_path is not None and Path(ckpt_path).resolve() == Path(dirpath or "", "last.ckpt").resolve()
            forks = (
                goes_on and runs.run_of(ckpt_path) is not None and not runs.resumes_in_place(self.trainer, ckpt_path)
            )
            if in_use and (forks or not goes_on):
                held = "an earlier run's checkpoints" if any(Path(dirpath).glob("*.ckpt")) else "files"
                new_run = " (from its last.ckpt under another logger name or version, a new run)" * forks
                raise UserError(
                    f"--checkpoint.dirpath {dirpath} holds {held}, and this run{new_run} would write "
                    "beside them: give an empty or new folder, or leave it out (each run's own checkpoints/)"
                )
            if dirpath is not None and (why := cannot_write(Path(dirpath))):  # found when the first one was written
                raise UserError(
                    f"--checkpoint.dirpath {dirpath}: cannot be written ({why}): make it writable, or give another one"
                )
            runs.refuse_an_unwritable_run(self.trainer, ckpt_path)
            # Its last.ckpt left at the run's earlier end, the next resume went back to it, and wrote the worse
            # best.ckpt of the epochs it trained again over this resume's (an audit).
            if not self.trainer.checkpoint_callback.save_last and runs.resumes_in_place(self.trainer, ckpt_path):
                raise UserError(
                    f"--checkpoint.save_last false: a resume of {Path(ckpt_path).resolve().parents[1]} keeps its "
                    "last.ckpt up to date, which the next resume goes on from (else it went back to this resume's "
                    "start, and wrote over its best.ckpt): leave the option out"
                )
            refuse_a_second_last_ckpt(self.trainer)
            refuse_checkpoints_among_others(self.trainer, goes_on and not forks)
            refuse_callbacks_the_model_cannot_take(self.trainer, self.model)
        fitting = self.subcommand == "fit"
        runs.refuse_a_chosen_run_dir_in_use(self.trainer, fitting, self.config[self.subcommand].ckpt_path)
        # The run dir is created deep inside the run (a traceback): check its parent can be written first.
        for logger in self.trainer.loggers:
            if logger.root_dir is None:  # --trainer.fast_dev_run's stand-in writes nothing
                continue
            if not str(logger.save_dir):  # Path("") is the current folder: a run dir made there
                raise UserError("--trainer.logger.init_args.save_dir is empty: give a folder, such as logs")
            root = Path(logger.root_dir)
            # "make it writable" was no fix: the option that names the file is.
            if file := root if root.is_file() else file_above(root):
                save_dir = Path(logger.save_dir or root)
                named = "save_dir" if file == save_dir or file in save_dir.parents else "name"
                raise UserError(
                    f"log dir {root}: {file} is a file, not a folder: give another --trainer.logger.init_args.{named}"
                )
            missing = missing_folders(root)
            try:
                root.mkdir(parents=True, exist_ok=True)
            except OSError as err:
                raise UserError(f"log dir {root}: cannot create it ({err.strerror}): {_LOG_DIR_FIX}") from err
            if not os.access(root, os.W_OK):
                raise UserError(f"log dir {root}: not writable: {_LOG_DIR_FIX}")
            self.trainer.made_dirs += tuple(folder.absolute() for folder in missing)

    def _check_monitored_metrics(self) -> None:
        # The model owns the train/ and val/ names; other keys (lr-SGD, a callback's own) are left
        # to Lightning, which checks them at the end of the first epoch.
        monitored = [
            (
                "--checkpoint.monitor"
                if callback is self.config_init.fit.checkpoint
                else f"--trainer.callbacks {type(callback).__name__} monitor",
                callback.monitor,
            )
            for callback in self.trainer.callbacks
            if isinstance(callback, EarlyStopping | callbacks.ModelCheckpoint)
        ]
        monitored.append(
            ("--model.scheduler.init_args.monitor", getattr(self.model.scheduler, "keywords", {}).get("monitor"))
        )
        for option, key in monitored:
            if not isinstance(key, str) or key in MNISTClassifier.EPOCH_METRICS:
                continue
            # Another spelling of one (val_loss, as Lightning's own examples name it; Val.Acc): else a
            # traceback of EarlyStopping's, or a ModelCheckpoint's error, after the first epoch.
            spelled = [name for name in MNISTClassifier.EPOCH_METRICS if _letters(name) == _letters(key)]
            if spelled or key.split("/")[0] in ("train", "val"):
                raise UserError(
                    f"{option} {key}: the model logs no metric of that name once per epoch: give "
                    + (spelled[0] if spelled else "one of " + ", ".join(MNISTClassifier.EPOCH_METRICS))
                )
        # Lightning's EarlyStopping then looks for it at the first epoch's end: a RuntimeError traceback there.
        for callback in self.trainer.callbacks:
            stopping = isinstance(callback, EarlyStopping) and callback.monitor.startswith("val/")
            if stopping and self.trainer.limit_val_batches == 0:
                off, fix = no_validation(self.trainer, self.datamodule, self.config.fit.get("ckpt_path") is not None)
                raise UserError(
                    f"--trainer.callbacks EarlyStopping monitor {callback.monitor}: {off}: {fix}, or monitor a train/ "
                    "metric"
                )
        # The app's checkpoint mode is max, for val/acc: --checkpoint.monitor val/loss alone kept the
        # epoch of the highest loss as best.ckpt and tested it; EarlyStopping's own mode is min. Warned,
        # not refused: a test of the checkpoint machinery may want the worst epoch on purpose.
        for callback in self.trainer.callbacks:
            if not isinstance(callback, EarlyStopping | callbacks.ModelCheckpoint):
                continue
            key, mode = callback.monitor, callback.mode
            if mode != (best := MNISTClassifier.best_mode(key, mode)):
                ours = callback is self.config_init.fit.checkpoint
                option = "--checkpoint" if ours else f"--trainer.callbacks {type(callback).__name__}"
                worst = "highest" if mode == "max" else "lowest"
                rank_zero_warn(
                    f"{option} monitor {key} with mode {mode} takes the {worst} {key} for the best: "
                    f"give {'--checkpoint.mode' if ours else 'its mode'} {best}"
                )

    def after_fit(self) -> None:
        # Read before the test, which restores the checkpoint callback's state from best.ckpt: as
        # it was when best.ckpt was written, before that epoch's last.ckpt (which went unnamed).
        saved = self._checkpoints_saved()
        results = self._test_after_fit() if self.config.fit.test_after_fit else None
        self._print_where_the_run_is(saved, results)

    def _checkpoints_saved(self) -> list[str]:
        """Each checkpoint callback's files, the run's own first: its best (all ``save_top_k``, best
        first, with their scores), then its last."""
        ours = self.trainer.checkpoint_callback
        own = None if self.config.fit.checkpoint.dirpath else Path(ours.dirpath or "")  # the run's checkpoints/
        saved: list[str] = []
        named_paths: set[str] = set()
        for callback in [ours, *(other for other in self.trainer.checkpoint_callbacks if other is not ours)]:
            if not isinstance(callback, callbacks.ModelCheckpoint):
                continue
            ranked = sorted(callback.best_k_models.items(), key=lambda kv: float(kv[1]), reverse=callback.mode == "max")
            named = [(path, f" ({callback.monitor} {float(score):.4f})") for path, score in ranked]
            if not named and callback.best_model_path:  # monitor null: the latest, unranked
                named = [(callback.best_model_path, "")]
            named.append((callback.last_model_path, ""))
            for path, score in named:
                if path and path not in named_paths:
                    named_paths.add(path)
                    # A name in the run's own checkpoints folder, the whole path elsewhere (a --checkpoint.dirpath,
                    # another callback's): the line said best.ckpt of files that were not in the run dir.
                    shown = Path(path).name if Path(path).parent == own else path
                    saved.append(shown + score)
        return saved

    def _print_where_the_run_is(self, saved: list[str], results: str | None) -> None:
        """The last lines of a fit: its run dir, what is in it (``results``: its test's file), and how
        to see its curves."""
        if self.trainer.fast_dev_run:
            return  # a debugging run writes nothing
        log_dir = self.trainer.log_dir  # every rank: under DDP a broadcast from rank 0
        if not self.trainer.is_global_zero:
            return
        # A resume adds its own config.resumeN.yaml beside the run's config.yaml.
        run_dir = runs.run_dir(self.trainer.logger, log_dir)
        # In a sub_dir, below the checkpoints: tb/config.yaml.
        files = [str(Path(log_dir).relative_to(run_dir) / name) for name in (self._config_filename(), results) if name]
        print(f"\nRun saved in {run_dir}: {', '.join([*saved, *files])}")
        # A logger added after the first writes in a folder of its own (a CSVLogger without a name in
        # lightning_logs/version_N), which the line above does not name.
        for logger in self.trainer.loggers[1:]:
            own = getattr(logger, "log_dir", None)
            if own and run_dir and not Path(own).resolve().is_relative_to(Path(run_dir).resolve()):
                print(f"Also logged by its {type(logger).__name__} in {own}")
        if see := self._tensorboard_command():
            print(f"Its curves and pictures: {see}")

    def _config_filename(self) -> str | None:
        return next((c.config_filename for c in self.trainer.callbacks if isinstance(c, runs.SaveConfig)), None)

    def _test_after_fit(self) -> str | None:
        """The test of the fit's best checkpoint (or final weights); the name of the ``results.json``
        written beside the run's config (``results.resume1.json`` beside ``config.resume1.yaml``, where
        the run has a ``results.json``)."""
        # No best.ckpt without a validation (--trainer.limit_val_batches 0, a --trainer.max_steps
        # inside the first epoch) or under --trainer.fast_dev_run: Lightning would end in a traceback.
        ckpt_path = "best" if self.trainer.checkpoint_callback.best_model_path else None
        if ckpt_path is None:
            rank_zero_warn(
                "fit: no best checkpoint was written (no validation ran, --checkpoint.save_top_k 0, or fast_dev_run): "
                "testing the final weights"
            )
        callback = self.trainer.checkpoint_callback
        tested = callback.best_model_path or callback.last_model_path
        again = f"the fit itself ended, and is saved in {runs.run_dir(self.trainer.logger, self.trainer.log_dir)}" + (
            f": test it with python -m mnist_pl test --ckpt_path {tested}" if tested else ""
        )
        self.fit_ended = again
        # The fit saved the run's config. Under ddp_spawn or ddp_fork its own processes did, and the
        # writer here, never told, refused the test: the file was there.
        for callback in self.trainer.callbacks:
            if isinstance(callback, runs.SaveConfig):
                callback.already_saved = True
        kwargs = {"datamodule": self.datamodule, "ckpt_path": ckpt_path, "weights_only": True}
        with runs.at_the_checkpoints_step(self.trainer, tested if ckpt_path else None):  # best.ckpt's
            signals.evaluate(self.trainer, "test", again=again, model=self.model, **kwargs)
        config = self._config_filename()
        if self.trainer.fast_dev_run or config is None:
            return None  # nothing written
        log_dir = self.trainer.log_dir  # every rank: under DDP a broadcast from rank 0
        results = config.replace("config", "results", 1).removesuffix(".yaml") + ".json"
        if not (Path(log_dir) / "results.json").exists():  # its fits so far stopped before their test (preempted)
            results = "results.json"  # the run's results, where a script reads them (README)
        if self.trainer.is_global_zero:
            self._write_results(Path(log_dir) / results, "test", tested if ckpt_path else None)
        return results
