"""Bad input ends in one line naming the thing and the fix, a non-zero exit, and no damage.

A copy of the suite's short trained run is shared by the module; every test runs the CLI with a
user's command line (``main()`` in this process, as ``python -m mnist_pl`` runs it) and then checks
that the run, its checkpoints and the config are byte-identical.
"""

import contextlib
import errno
import gzip
import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import lightning as L
import pytest
import torch
import yaml
from conftest import BUNDLED_RAW, QUICK_FIT, QUIET, REPO, child_env, printed, run_main
from jsonargparse import Namespace

from mnist_pl import export
from mnist_pl.__main__ import main
from mnist_pl.callbacks import StopOnNonFiniteLoss
from mnist_pl.cli import MNISTCLI
from mnist_pl.data import MNISTDataModule
from mnist_pl.errors import UserError, _raised_by_lightning, reported
from mnist_pl.model import MNISTClassifier
from mnist_pl.nets import MinimalCNN
from mnist_pl.parser import _UniqueKeys, set_again_by_a_config
from mnist_pl.trainer import refuse_a_lone_node, refuse_bad_settings

DATA = f"--data.data_dir={REPO / 'data'}"


# What Lightning leaves out of a checkpoint written with save_weights_only (dump_checkpoint).
LEFT_OUT_OF_WEIGHTS_ONLY = ("optimizer_states", "lr_schedulers", "callbacks", "MixedPrecision")


def digest(folder: Path) -> dict[str, str]:
    """MD5 of every file under ``folder`` (and every folder): equal digests mean byte-identical trees."""
    return {
        str(p.relative_to(folder)): hashlib.md5(p.read_bytes()).hexdigest() if p.is_file() else "folder"
        for p in folder.rglob("*")
    }


def assert_one_line_error(result: subprocess.CompletedProcess, status: int, *fragments: str) -> str:
    """The exit status, and the last line of stderr is ``error: ...`` holding every fragment."""
    assert result.returncode == status, result.stderr[-3000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: "), result.stderr[-3000:]
    for fragment in fragments:
        assert fragment in last, last
    if status == 1:  # our own errors: one line, never a traceback
        assert "Traceback" not in result.stderr, result.stderr[-3000:]
    return last


class Run:
    """A finished short fit: its folder, config copy and logs root, and their digest."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.config = root / "lenet.yaml"
        self.logs = root / "logs"
        self.dir = self.logs / "lenet" / "version_0"
        self.best = self.dir / "checkpoints" / "best.ckpt"
        self.logs_arg = f"--trainer.logger.init_args.save_dir={self.logs}"

    def snapshot(self) -> dict[str, str]:
        return digest(self.root)

    def fit(self, *args: str) -> subprocess.CompletedProcess:
        return run_main("fit", f"--config={self.config}", DATA, self.logs_arg, *QUICK_FIT, *args, cwd=self.root)

    def refused_fit(self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, *args: str) -> str:
        """A ``fit`` with ``args`` refused as it starts, by main() in this process (status 1, nothing written
        or changed): its error line."""
        monkeypatch.chdir(self.root)
        monkeypatch.setattr(sys, "argv", ["mnist_pl", "fit", f"--config={self.config}", DATA, *args])
        before = self.snapshot()
        with pytest.raises(SystemExit) as exit_:
            main()
        assert exit_.value.code == 1
        assert self.snapshot() == before
        return capsys.readouterr().err.splitlines()[-1]


@pytest.fixture(scope="module")
def run(trained_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Run:
    trained = Run(tmp_path_factory.mktemp("trained"))
    shutil.copy(REPO / "configs" / "lenet.yaml", trained.config)
    shutil.copytree(trained_run, trained.dir)
    assert trained.best.is_file()
    return trained


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """Make ``folder`` unwritable: chmod for a normal user, a read-only bind mount for root."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)
        return
    mount = subprocess.run(["mount", "--bind", folder, folder], capture_output=True)
    if mount.returncode != 0:
        pytest.skip("running as root without permission to mount: cannot make a folder read-only")
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", folder, folder], check=True, capture_output=True)
        yield
    finally:
        # Lazily: a checkpoint read by run_main's CLI stays mapped while jsonargparse holds its parser (a ContextVar).
        subprocess.run(["umount", "--lazy", folder], check=True)


# --- config -----------------------------------------------------------------------------------

# jsonargparse's own messages (exit 2, after a one-line usage) name the key and why, but run to ten
# lines for a value that fits no type of a Union: MNISTArgumentParser makes each one line, and
# names a malformed YAML file. They fail while parsing, so they run in this process: a fresh one
# per case costs ~3 s.
TIP = "tip: For details of accepted options run: mnist_pl fit --help"
PARSER_CASES = {
    "unknown key": (
        ["--trainer.max_epochz=1"],
        "error: unrecognized arguments: --trainer.max_epochz=1: --trainer.max_epochz here is --trainer.max_epochs\n",
    ),
    # "give --model.scheduler.schedulers", which no config can
    "a sequence of schedules": (
        ["--model.scheduler=SequentialLR"],
        "error: --model.scheduler: the following arguments are required: schedulers, milestones: the schedule "
        "chains schedules built on the model's optimizer, which no config can give: give one schedule (OneCycleLR "
        "warms up, then decays)\n",
    ),
    "a prefix of an option": (
        ["--trainer.max_epoch=1"],
        "error: unrecognized arguments: --trainer.max_epoch=1: --trainer.max_epoch here is --trainer.max_epochs\n",
    ),
    # With allow_abbrev off, a prefix is no option; of one option alone, that one (it was no spelling near enough).
    "a prefix of one option alone": (
        ["--ckpt=x.ckpt"],
        "error: unrecognized arguments: --ckpt=x.ckpt: --ckpt here is --ckpt_path\n",
    ),
    # Was "--test_after_fit.init_args.test_after_fit maybe", an option of none (an audit).
    "a bad value of a top-level option": (
        ["--test_after_fit=maybe"],
        "error: --test_after_fit maybe: expected bool\n",
    ),
    # Before a spelling near another: max_ep was said to be --trainer.max_steps, max_e --trainer.max_time (an audit).
    "a short prefix of one option alone": (
        ["--trainer.max_ep=1"],
        "error: unrecognized arguments: --trainer.max_ep=1: --trainer.max_ep here is --trainer.max_epochs\n",
    ),
    # A class option is offered as itself, not as its += form (which adds to the recipe's callbacks).
    "a prefix of a class option": (
        ["--trainer.callb=x"],
        "error: unrecognized arguments: --trainer.callb=x: --trainer.callb here is --trainer.callbacks\n",
    ),
    "a misspelt class option": (
        ["--model.schedulr=StepLR"],
        "error: unrecognized arguments: --model.schedulr=StepLR: --model.schedulr here is --model.scheduler\n",
    ),
    # An unquoted glob, which the shell expanded (an audit).
    "files after the checkpoint": (
        ["--ckpt_path", "v0/best.ckpt", "v1/best.ckpt"],
        "error: unrecognized arguments: v1/best.ckpt: 1 file, as the shell expands an unquoted glob: --ckpt_path takes "
        "one checkpoint\n",
    ),
    # After a --data.predict_path: a misspelt option, not files of a glob the shell expanded (an audit).
    "an option misspelt after the predict path": (
        ["--data.predict_path", "a.png", "--trainer.max_epochz=1"],
        "error: unrecognized arguments: --trainer.max_epochz=1: --trainer.max_epochz here is --trainer.max_epochs\n",
    ),
    # jsonargparse blamed the option after false in words of its own, and built a logger of Lightning's defaults
    # from null and the option (its runs in lightning_logs, the recipe's name lost), exit 0 (an audit).
    "no logger, then an option of one": (
        ["--trainer.logger=false", "--trainer.logger.init_args.save_dir=x"],
        "error: --trainer.logger false (no logger), then --trainer.logger.init_args.save_dir, an option of a logger: "
        "leave out one of them\n",
    ),
    # true is Lightning's default logger: jsonargparse's "Logger is abstract: expected bool or None" (a mutation audit).
    "Lightning's default logger as true, then an option of one": (
        ["--trainer.logger=true", "--trainer.logger.init_args.name=x"],
        "error: --trainer.logger true (Lightning's default logger), then --trainer.logger.init_args.name, an option "
        "of a logger: leave out one of them\n",
    ),
    # In a list of classes: the line named an option nobody typed (a review).
    "a callback's argument of the wrong type in a config": (
        ["--config=badcallback.yaml"],
        "error: badcallback.yaml: trainer.callbacks.init_args.patience abc: expected int: fix the file\n",
    ),
    # "the following arguments are required: fit.model.net" (a review).
    "a network of null in a config": (
        ["--config=netnull.yaml"],
        "error: netnull.yaml: model.net None: expected a class path (a subclass of Module): fix the file\n",
    ),
    # jsonargparse's "Unexpected config" (a review).
    "an empty config": (["--config="], "error: --config is empty: give a YAML file, such as configs/lenet.yaml\n"),
    # The line said "--model.net None" and no more (a review).
    "a network of null": (
        ["--model.net=null"],
        "error: --model.net None: expected a class path (a subclass of Module)\n",
    ),
    # YAML's other spellings: ~ blamed lenet.yaml's logger, off and no were "Logger is abstract" (a review).
    "no logger as off, then an option of one": (
        ["--trainer.logger=off", "--trainer.logger.init_args.name=x"],
        "error: --trainer.logger off (no logger), then --trainer.logger.init_args.name, an option of a logger: "
        "leave out one of them\n",
    ),
    "Lightning's default logger as ~, then an option of one": (
        ["--trainer.logger=~", "--trainer.logger.init_args.name=x"],
        "error: --trainer.logger ~ (Lightning's default logger), then --trainer.logger.init_args.name, an option "
        "of a logger: leave out one of them\n",
    ),
    # A logger chosen after false takes its options (a wrapper script's options added to the user's).
    "no logger, then a logger and its option": (
        ["--trainer.logger=false", "--trainer.logger=CSVLogger", "--trainer.logger.init_args.name=x", "--data=abc"],
        "error: --data abc: expected a YAML file of data options",
    ),
    # In a group's file: its key, not an option never typed.
    "a misspelt class argument in a group's file": (
        ["--model=modelgroup.yaml"],
        "error: model.net.init_args.widht: mnist_pl.nets.MinimalCNN takes no argument 'widht': did you mean width? "
        "(--model.net.help mnist_pl.nets.MinimalCNN lists them)",
    ),
    "Lightning's default logger, then an option of one": (
        ["--trainer.logger", "null", "--trainer.logger.init_args.name", "x"],
        "error: --trainer.logger null (Lightning's default logger), then --trainer.logger.init_args.name, an option "
        "of a logger: leave out one of them\n",
    ),
    # What PyTorch's MNIST example takes (examples/mnist/main.py): where many come from.
    "the PyTorch example's flag": (
        ["--epochs", "3"],
        "error: unrecognized arguments: --epochs 3: --epochs here is --trainer.max_epochs\n",
    ),
    "the example's flag of its SGD years": (  # lenet.yaml's source: SGD, momentum 0.5
        ["--momentum", "0.5"],
        "error: unrecognized arguments: --momentum 0.5: --momentum here is --model.optimizer.init_args.momentum\n",
    ),
    # LightningCLI's optimizer options, which its docs teach: the model's here.
    "LightningCLI's optimizer": (
        ["--optimizer=Adam", "--optimizer.weight_decay=0.01"],
        "error: unrecognized arguments: --optimizer=Adam --optimizer.weight_decay=0.01: --optimizer here is "
        "--model.optimizer\n",
    ),
    "LightningCLI's schedule": (
        ["--lr_scheduler.gamma=0.5"],
        "error: unrecognized arguments: --lr_scheduler.gamma=0.5: --lr_scheduler.gamma here is "
        "--model.scheduler.gamma (after --model.scheduler CLASS)\n",
    ),
    "nothing near": (["--foo=1"], "error: unrecognized arguments: --foo=1\n"),
    # A group's option without its group: no spelling near enough (an audit).
    "an option without its group": (
        ["--max_epochs=3"],
        "error: unrecognized arguments: --max_epochs=3: --max_epochs here is --trainer.max_epochs\n",
    ),
    # A list where a number goes: jsonargparse named the type, "list", for the value, as if typed (an audit).
    "a list for a number, in a file": (
        ["--config=vallist.yaml"],
        "error: vallist.yaml: data.val_size [5000]: expected an int >= 0: fix the file\n",
    ),
    "a list for a number, typed": (
        ["--data.val_size=[5000]"],
        "error: --data.val_size [5000]: expected an int >= 0\n",
    ),
    # The parse stops at the first bad value: a good one after it is not blamed (a review).
    "a list for a number, a good config after it": (
        ["--config=vallist.yaml", "--config=lenet.yaml"],
        "error: vallist.yaml: data.val_size [5000]: expected an int >= 0: fix the file\n",
    ),
    "a list for a number typed, a good config after it": (
        ["--data.val_size=[5000]", "--config=lenet.yaml"],
        "error: --data.val_size [5000]: expected an int >= 0\n",
    ),
    # Two subcommands, or predict's option for another: "unrecognized arguments" alone (an audit).
    "a second subcommand": (
        ["test"],
        "error: unrecognized arguments: test: test is a subcommand of its own: run one at a time (fit tests its "
        "best checkpoint)\n",
    ),
    "predict's option": (
        ["--predictions.output=p.csv"],
        "error: unrecognized arguments: --predictions.output=p.csv: --predictions.output is an option of predict\n",
    ),
    # A file without its option said only "unrecognized arguments" (an audit).
    "a config without --config": (
        ["lenet.yaml"],
        "error: unrecognized arguments: lenet.yaml: give it as --config lenet.yaml\n",
    ),
    "a checkpoint without --ckpt_path": (
        ["best.ckpt"],
        "error: unrecognized arguments: best.ckpt: give it as --ckpt_path best.ckpt\n",
    ),
    # A class's name misspelled, short or whole; a module of one's own not found; a class's required
    # argument: each line named no fix.
    "a short class name misspelled": (
        ["--trainer.callbacks+=EarlyStop"],
        "error: --trainer.callbacks EarlyStop: expected a class path (package.module.Class) or None: "
        "did you mean lightning.pytorch.callbacks.EarlyStopping?\n",
    ),
    # A callback's argument before its += went to the callback before it: a line of two class paths (an audit).
    "a callback's argument before the callback": (
        [
            "--trainer.callbacks.patience=2",
            "--trainer.callbacks+=EarlyStopping",
            "--trainer.callbacks.monitor=val/loss",
        ],
        "error: --trainer.callbacks.patience 2: an argument of the callback given last before it, "
        "mnist_pl.callbacks.ImageLogger, which takes no 'patience': give it after the --trainer.callbacks+= of its "
        "callback\n",
    ),
    # After its callback, misspelled: said to belong to the callback before it (a review).
    "a callback's argument misspelled": (
        [
            "--trainer.callbacks+=EarlyStopping",
            "--trainer.callbacks.monitor=val/loss",
            "--trainer.callbacks.patiense=2",
        ],
        "error: --trainer.callbacks.init_args.patiense: lightning.pytorch.callbacks.EarlyStopping takes no argument "
        "'patiense': did you mean patience?",
    ),
    # The += form, as typed (plain --trainer.callbacks replaces the recipe's callbacks); Lightning's class, not
    # the app's import of it (an audit).
    "the += form misspelled": (
        ["--trainer.callback+=EarlyStopping"],
        "error: unrecognized arguments: --trainer.callback+=EarlyStopping: --trainer.callback+ here is "
        "--trainer.callbacks+\n",
    ),
    "a Lightning callback imported by the app, misspelled": (
        ["--trainer.callbacks+=LearningRateFindr"],
        "did you mean lightning.pytorch.callbacks.LearningRateFinder?\n",
    ),
    # A logger's type is a Union with Iterable and bool: its line named no fix (an audit).
    "a logger's short name misspelled": (
        ["--trainer.logger=CSVLoger"],
        "error: --trainer.logger CSVLoger: expected Iterable or bool or None: "
        "did you mean lightning.pytorch.loggers.CSVLogger?\n",
    ),
    "a class name's case": (
        ["--model.net=Lenet"],
        "error: --model.net: expected a class path (package.module.Class): did you mean mnist_pl.nets.LeNet?\n",
    ),
    # Two letters swapped: difflib's ratio for SDG and SGD (0.67) is under any safe cutoff (an audit).
    "two letters of a class path swapped": (
        ["--model.optimizer=torch.optim.SDG"],
        "error: --model.optimizer torch.optim.SDG: module 'torch.optim' has no attribute 'SDG': "
        "did you mean torch.optim.SGD?\n",
    ),
    "two letters of a short class name swapped": (
        ["--model.optimizer=SDG"],
        "error: --model.optimizer: expected a class path (package.module.Class): did you mean torch.optim.SGD?\n",
    ),
    "a module of one's own not found": (
        ["--model.net=othermod.Net"],
        "No module named 'othermod': a module of your own (othermod) is imported from the folder the command "
        "runs in: run it there, or give its folder in PYTHONPATH\n",
    ),
    "a class's required argument": (
        ["--model.scheduler=torch.optim.lr_scheduler.CosineAnnealingLR"],
        "error: --model.scheduler: the following arguments are required: T_max: give --model.scheduler.T_max\n",
    ),
    "unknown class path": (["--model.net=mnist_pl.nets.NoSuchNet"], "has no attribute 'NoSuchNet'"),
    # A module on the way misspelt: no fix, or (lightning.pytorch.Callback) a class of another kind.
    "a module of the path misspelled": (
        ["--model.optimizer=torch.optm.SGD"],
        "error: --model.optimizer torch.optm.SGD: module 'torch' has no attribute 'optm': "
        "did you mean torch.optim.SGD?\n",
    ),
    "a package of the path misspelled": (
        ["--trainer.callbacks+=lightning.pytorch.callback.EarlyStopping"],
        "has no attribute 'callback': did you mean lightning.pytorch.callbacks.EarlyStopping?\n",
    ),
    "a package's module misspelled": (
        ["--data.augment=torchvision.transform.v2.RandomRotation"],
        "No module named 'torchvision.transform': did you mean torchvision.transforms.v2.RandomRotation?\n",
    ),
    # jsonargparse's words: "Expected 'torch.nn.Linear' to be a subclass of <class 'Optimizer'>.", no value, no fix
    "a class of another kind": (
        ["--model.optimizer=torch.nn.Linear"],
        "error: --model.optimizer torch.nn.Linear: not a subclass of Optimizer: give the class path of one, such as a "
        "class of torch.optim\n",
    ),
    "a class of another kind in a config": (
        ["--config=othernet.yaml"],
        "error: othernet.yaml: model.net torch.optim.SGD: not a subclass of Module: give the class path of one, such "
        "as a class of mnist_pl.nets\n",
    ),
    "an optimizer's module not found": (
        ["--model.optimizer=foo.Bar"],
        "error: --model.optimizer foo.Bar: No module named 'foo': a module of your own (foo) is imported from the "
        "folder the command runs in: run it there, or give its folder in PYTHONPATH\n",
    ),
    # The line went on with the whole list of settings and what a class value may look like: 1 KB.
    "a callback missing an argument": (
        ["--trainer.callbacks=lightning.pytorch.callbacks.EarlyStopping", "--trainer.callbacks.mode=max"],
        "error: --trainer.callbacks: Problem with given class_path 'lightning.pytorch.callbacks.EarlyStopping': "
        "the following arguments are required: monitor: give --trainer.callbacks.monitor\n",
    ),
    # Moved out of their frames, the training images were blank: 11% accuracy, exit status 0
    "a shift of more than the image": (
        ["--data.augment=mnist_pl.augment.RandomAffine", "--data.augment.translate=3"],
        "error: --data.augment.init_args.translate 3: expected a number from 0 to 1\n",
    ),
    # An argument of a class of torchvision's: "Problem with given class_path", and no word of the value.
    "a torchvision argument of the wrong type": (
        ["--data.augment=torchvision.transforms.v2.RandomRotation", "--data.augment.degrees=abc"],
        "error: --data.augment.init_args.degrees abc: expected a number or a list ([a, b])\n",
    ),
    # torch's generator took it, in a traceback
    "a data seed past 64 bits": (
        ["--data.split_seed=99999999999999999999"],
        "error: --data.split_seed 99999999999999999999: expected an int from -9223372036854775808 to "
        "9223372036854775807",
    ),
    # torch's batch sampler took it, in a traceback at the first batch: islice() "must be ... <= sys.maxsize"
    "a batch size past 64 bits": (
        ["--data.batch_size=99999999999999999999"],
        "error: --data.batch_size 99999999999999999999: expected an int from 1 to 9223372036854775807",
    ),
    "an evaluation batch size past 64 bits": (
        ["--data.eval_batch_size=9223372036854775808"],
        "error: --data.eval_batch_size 9223372036854775808: expected an int from 1 to 9223372036854775807",
    ),
    "missing yaml": (["--config=nothere.yaml"], "nothere.yaml: no such file: give the path of a YAML config file\n"),
    "malformed yaml": (["--config=bad.yaml"], "error: bad.yaml: not valid YAML at line 3, column 1"),
    "an empty section": (  # jsonargparse: "Unexpected config: data", naming neither the file nor a fix
        ["--config=emptysection.yaml"],
        "error: emptysection.yaml: data: is empty: give its settings, or leave the key out",
    ),
    # jsonargparse takes null from a file for any type: a TypeError traceback as the first batch was cut
    "null in a config file": (["--config=null.yaml"], "error: null.yaml: data.batch_size None: expected an int > 0"),
    "null for a switch": (["--config=nulls.yaml"], "error: nulls.yaml: model.channels_last None: expected bool"),
    "null for a class": (
        ["--config=nooptimizer.yaml"],
        "error: nooptimizer.yaml: model.optimizer None: expected a class path (package.module.Class)",
    ),
    # jsonargparse's words, naming "<unicode string>" and an offset
    "a control character": (
        ["--config=bell.yaml"],
        "error: bell.yaml: not valid YAML at line 2, column 16: unacceptable character #x0007: fix the file",
    ),
    # YAML keeps the last of a key written twice, silently: the file's first lr was not the one trained with.
    "a key written twice": (
        ["--config=twice.yaml"],
        "error: twice.yaml: not valid YAML at line 5, column 7: lr written twice (at lines 4 and 5): fix the file",
    ),
    # Written twice in one line, and a merge (<<) of a mapping that overrides one of its own merged keys: valid.
    "a key written dotted and nested": (  # jsonargparse took the dotted one's 3 (a review)
        ["--config=dotted.yaml"],
        "error: dotted.yaml: not valid YAML at line 3, column 1: trainer.max_epochs written twice (at lines 2 and "
        "3): fix the file",
    ),
    "a key written twice in one line": (
        ["--config=flow.yaml"],
        "error: flow.yaml: not valid YAML at line 1, column 40: lr written twice (at line 1): fix the file",
    ),
    # jsonargparse loads these itself: refused by the same check, through its YAML loader.
    "a key written twice in a group's file": (
        ["--data=twicedata.yaml"],
        "error: --data twicedata.yaml: batch_size written twice (at lines 1 and 2): keep one",
    ),
    "a key written twice in YAML typed": (
        ["--model={label_smoothing: 0.1, label_smoothing: 0.2}"],
        "error: --model {label_smoothing: 0.1, label_smoothing: 0.2}: label_smoothing written twice (at line 1): "
        "keep one",
    ),
    "a section written twice": (
        ["--config=twosections.yaml"],
        "error: twosections.yaml: not valid YAML at line 3, column 1: trainer written twice (at lines 1 and 3)",
    ),
    # These were "Unexpected config", tracebacks (a UnicodeDecodeError, a TypeError when data was built).
    # "--model.optimizer: 'NoneType' object has no attribute 'keys'", naming neither the file nor the key
    "empty init_args": (
        ["--config=emptyargs.yaml"],
        "error: emptyargs.yaml: model.optimizer.init_args: is empty: give its arguments, or leave the key out\n",
    ),
    "empty init_args in a list": (
        ["--config=emptylisted.yaml"],
        "error: emptylisted.yaml: trainer.callbacks[0].init_args: is empty: give its arguments, or leave the key out\n",
    ),
    "a checkpoint for the checkpoint settings": (
        ["--checkpoint=best.ckpt"],
        "error: --checkpoint best.ckpt: not a text file (UTF-8): give a YAML file of checkpoint options; a checkpoint "
        "to load is --ckpt_path\n",
    ),
    # An image (binary) given to its own option first was named instead (a review)
    "a checkpoint for the checkpoint settings after an image": (
        ["--data.predict_path=binary.yaml", "--checkpoint=best.ckpt"],
        "error: --checkpoint best.ckpt: not a text file (UTF-8): give a YAML file of checkpoint options; a checkpoint "
        "to load is --ckpt_path\n",
    ),
    "not a text file": (["--config=binary.yaml"], "error: binary.yaml: not a text file (UTF-8): give a YAML config"),
    # A guess at loading a checkpoint: jsonargparse read the file as text, a 65-line UnicodeDecodeError.
    "a binary file for a group's options": (
        ["--checkpoint=binary.yaml"],
        "error: --checkpoint binary.yaml: not a text file (UTF-8): give a YAML file of checkpoint options\n",
    ),
    "empty config": (["--config=empty.yaml"], "error: empty.yaml: holds nothing, not settings (trainer:, model:"),
    "a list for a config": (["--config=list.yaml"], "error: list.yaml: holds a list, not settings"),
    "a number for a section": (["--config=section.yaml"], "error: section.yaml: data: 5 is not its settings"),
    "a list for predict's section": (["--config=predictions.yaml"], "predictions.yaml: predictions: [1, 2] is not its"),
    # A run's other YAML, beside its config.yaml: "net.init_args.num_classes is not an option of fit: fix the key".
    "a run's hparams.yaml": (
        ["--config=logs/lenet/version_0/hparams.yaml"],
        "error: logs/lenet/version_0/hparams.yaml: a run's hparams.yaml (the model's and data's settings), not a "
        "config: give the run's config.yaml, beside it\n",
    ),
    # The PyTorch example's flags are the command line's: in a file, the fix was "did you mean nothing: a fit ...?"
    "the example's flag as a key": (
        ["--config=flags.yaml"],
        "error: flags.yaml: save-model is not an option of fit: fix the key (python -m mnist_pl fit --help lists "
        "them)\n",
    ),
    "LightningCLI's optimizer in a config": (
        ["--config=lightnings.yaml"],
        "error: lightnings.yaml: optimizer.class_path is not an option of fit: did you mean "
        "model.optimizer.class_path? (python -m mnist_pl fit --help lists them)\n",
    ),
    "unknown key in a config": (
        ["--config=badkey.yaml"],
        "error: badkey.yaml: trainer.max_epoch is not an option of fit: did you mean trainer.max_epochs? (python -m "
        "mnist_pl fit --help lists them)\n",
    ),
    # was "--data.batch_size abc", an option the command line did not have
    "a bad value in a config": (
        ["--config=badvalue.yaml"],
        "error: badvalue.yaml: data.batch_size abc: expected an int > 0: fix the file",
    ),
    # jsonargparse reads a config inside its folder: the file, named from where the command ran, was not found
    # there, and the error named an option never typed (an audit: a run's config.yaml cut short)
    "a bad value in a config of another folder": (
        ["--config=sub/badvalue.yaml"],
        "error: sub/badvalue.yaml: data.batch_size abc: expected an int > 0: fix the file",
    ),
    "unknown key in a config of another folder": (
        ["--config=sub/badkey.yaml"],
        "error: sub/badkey.yaml: trainer.max_epoch is not an option of fit: did you mean trainer.max_epochs?",
    ),
    # a class's argument written without init_args, as jsonargparse takes it
    "a bad class argument in a config": (
        ["--config=badlr.yaml"],
        "error: badlr.yaml: model.optimizer.init_args.lr abc: expected float: fix the file",
    ),
    # Beside its class_path, not under init_args: jsonargparse took the class_path for an argument of the class
    # before it ("torch.optim.SGD takes no argument 'class_path'").
    "a class argument beside its class_path in a config": (
        ["--config=flat.yaml"],
        "error: flat.yaml: model.optimizer: lr beside class_path: a class's arguments go under init_args: "
        "{class_path: torch.optim.Adam, init_args: {lr: 0.1}}",
    ),
    "a class argument beside its class_path typed": (
        ["--model.net={class_path: MinimalCNN, width: 4, num_classes: 10}"],
        "error: --model.net: width, num_classes beside class_path: a class's arguments go under init_args: "
        "{class_path: MinimalCNN, init_args: {width: 4, num_classes: 10}}",
    ),
    "an optimizer of null typed": (  # jsonargparse's words: "Expected an import path or a subclass spec"
        ["--model.optimizer=null"],
        "error: --model.optimizer None: expected a class path (package.module.Class)",
    ),
    "a class's help misspelt": (
        ["--model.optimizer.help=SDG"],
        "error: --model.optimizer.help: Expected a dot import path string: SDG: did you mean torch.optim.SGD?",
    ),
    "a class argument beside its class_path in a group typed": (
        ["--model={optimizer: {class_path: torch.optim.SGD, lr: 0.1}}"],
        "error: --model (its optimizer): lr beside class_path: a class's arguments go under init_args: "
        "{class_path: torch.optim.SGD, init_args: {lr: 0.1}}",
    ),
    "class arguments beside its class_path, written as YAML reads them": (
        ["--config=flatlogger.yaml"],
        "error: flatlogger.yaml: trainer.logger: save_dir, version beside class_path: a class's arguments go under "
        'init_args: {class_path: TensorBoardLogger, init_args: {save_dir: "a: b", version: null}}',
    ),
    "a class's help misspelt with its module": (
        ["--model.net.help=mnist_pl.nets.Lenet"],
        "error: --model.net.help: module 'mnist_pl.nets' has no attribute 'Lenet': did you mean mnist_pl.nets.LeNet?",
    ),
    "misspelled class argument in a config": (
        ["--config=badarg.yaml"],
        "error: badarg.yaml: model.optimizer.init_args.momentun: torch.optim.SGD takes no argument 'momentun': "
        "did you mean momentum? (--model.optimizer.help torch.optim.SGD lists them)",
    ),
    "misspelled network argument in a config": (
        ["--config=badnet.yaml"],
        "error: badnet.yaml: model.net.init_args.widht: mnist_pl.nets.MinimalCNN takes no argument 'widht'",
    ),
    "a class in a config that cannot be imported": (
        ["--config=badclass.yaml"],
        "error: badclass.yaml: model.net mnist_pl.nets.LeNet5: module 'mnist_pl.nets' has no attribute 'LeNet5': "
        "did you mean mnist_pl.nets.LeNet?",
    ),
    # lenet.yaml's momentum is SGD's: the Adam chosen after it, with a momentum of its own, is not the file's fault.
    "an argument the class chosen on the command line does not take": (
        ["--model.optimizer=torch.optim.Adam", "--model.optimizer.init_args.momentum=0.9"],
        "error: --model.optimizer.init_args.momentum: torch.optim.Adam takes no argument 'momentum': fix the option "
        "(--model.optimizer.help torch.optim.Adam lists them)",
    ),
    # minimal.yaml's MinimalCNN takes a width, but typed before it, jsonargparse read it for the LeNet chosen then.
    "a network argument typed before the config that names the network": (
        ["--model.net.width=8", f"--config={REPO / 'configs' / 'minimal.yaml'}"],
        "error: --model.net.init_args.width: mnist_pl.nets.LeNet takes no argument 'width': typed before --config, "
        "it was read for the class chosen then: give it after the --config",
    ),
    # lenet.yaml's SGD took it; the file's Adadelta dropped it, without a word (a review).
    "an argument typed before a config whose class does not take it": (
        ["--model.optimizer.momentum=0.5", "--config=adadelta.yaml"],
        "error: --model.optimizer.momentum 0.5 is given before --config adadelta.yaml, which sets model.optimizer: "
        "torch.optim.Adadelta, which takes no argument 'momentum': leave out --model.optimizer.momentum "
        "(--model.optimizer.help torch.optim.Adadelta lists them)",
    ),
    # Found by the main parser after fit's own parse: still under fit's usage line.
    "a required class argument left out": (
        ["--model.scheduler=torch.optim.lr_scheduler.OneCycleLR"],
        "error: --model.scheduler: the following arguments are required: max_lr",
    ),
    "wrong type": (["--data.batch_size=abc"], "error: --data.batch_size abc: expected an int > 0"),
    # lenet.yaml's batch_size 64 equals 64.0: the file's good value was "fix the file" (an audit).
    "a typed value equal to a config's good one, of the wrong type": (
        [f"--config={REPO / 'configs' / 'lenet.yaml'}", "--data.batch_size", "64.0"],
        "error: --data.batch_size 64.0: expected an int > 0",
    ),
    "negative batch size": (["--data.batch_size=-5"], "error: --data.batch_size -5: expected an int > 0"),
    "label smoothing past 1": (
        ["--model.label_smoothing=2"],
        "error: --model.label_smoothing 2: expected a number from 0 to 1",
    ),
    "fits no type of a union": (["--trainer.max_epochs=abc"], "error: --trainer.max_epochs abc: expected int or None"),
    "class argument": (["--model.optimizer.init_args.lr=abc"], "--model.optimizer.init_args.lr abc: expected float"),
    # YAML reads nan and inf as words: "expected float" of them was no fix (an audit).
    "not a finite number": (
        ["--model.optimizer.lr=nan"],
        "--model.optimizer.init_args.lr nan: expected a finite float",
    ),
    "an infinite mean": (["--data.mean=-inf"], "--data.mean -inf: expected a finite float or None"),
    # It was jsonargparse's "--model.net: Problem with given class_path ...: Option 'width' is not accepted" (an audit).
    "unknown class argument": (
        ["--model.net.init_args.width=3"],
        "error: --model.net.init_args.width: mnist_pl.nets.LeNet takes no argument 'width': fix the option "
        "(--model.net.help mnist_pl.nets.LeNet lists them)",
    ),
    "misspelt class argument": (
        ["--model.net=mnist_pl.nets.MinimalCNN", "--model.net.widht=3"],
        "error: --model.net.init_args.widht: mnist_pl.nets.MinimalCNN takes no argument 'widht': did you mean width? "
        "(--model.net.help mnist_pl.nets.MinimalCNN lists them)",
    ),
    # The Union's other members (a list of callbacks, None) gave their own reasons: the key twice and no
    # reason, an "Option 'patience' is not accepted" of EarlyStopping's, or "-: expected int or None".
    "a logger argument's bad value": (
        [
            "--trainer.logger=lightning.pytorch.loggers.CSVLogger",
            "--trainer.logger.init_args.flush_logs_every_n_steps=x",
        ],
        "error: --trainer.logger.init_args.flush_logs_every_n_steps x: expected int\n",
    ),
    # TensorBoard's SummaryWriter takes them untyped, through the logger's **kwargs: jsonargparse let
    # any value pass, and the writer failed in a TypeError traceback as the fit started.
    "a writer argument's bad value": (
        ["--trainer.logger.init_args.max_queue=abc"],
        "error: --trainer.logger.init_args.max_queue abc: expected int\n",
    ),
    "a writer argument's bad value in a list of loggers": (
        [
            "--trainer.logger+=lightning.pytorch.loggers.TensorBoardLogger",
            "--trainer.logger.save_dir=more",
            "--trainer.logger.flush_secs=soon",
        ],
        "error: --trainer.logger.init_args.flush_secs soon: expected a number\n",
    ),
    "a callback argument's bad value": (
        [
            "--trainer.callbacks=lightning.pytorch.callbacks.EarlyStopping",
            "--trainer.callbacks.monitor=val/acc",
            "--trainer.callbacks.patience=abc",
        ],
        "error: --trainer.callbacks.init_args.patience abc: expected int\n",
    ),
    "a schedule argument's bad value": (
        ["--model.scheduler=torch.optim.lr_scheduler.StepLR", "--model.scheduler.init_args.step_size=abc"],
        "error: --model.scheduler.init_args.step_size abc: expected int\n",
    ),
    "a group's option that is not a file": (
        ["--data=abc"],
        "error: --data abc: expected a YAML file of data options: give one that exists, or the options one by one",
    ),
    # A file that exists was answered as one that did not: "give one that exists" (an audit).
    "a group's file that is no YAML": (
        ["--data=bad.yaml"],
        "error: --data bad.yaml: not valid YAML at line 3, column 1: expected ',' or ']', but got '<stream end>': "
        "fix the file\n",
    ),
    "a group's file of a list": (
        ["--data=list.yaml"],
        "error: --data list.yaml: holds a list, not data options: fix the file\n",
    ),
    "a group's empty file": (
        ["--data=empty.yaml"],
        "error: --data empty.yaml: holds nothing, not data options: fix the file\n",
    ),
    # jsonargparse's words named no fix (as for a missing one: "missing yaml").
    "a config that is a folder": (["--config=."], "/.: a folder: give the path of a YAML config file in it\n"),
    "a config that is a device": (
        ["--config=/dev/null"],
        "/dev/null: not a file: give the path of a YAML config file\n",
    ),
    "an unknown key in a group's YAML": (  # jsonargparse's words named no fix
        ["--data={batch_sise: 3}"],
        "error: data.batch_sise is not an option of fit: did you mean data.batch_size? (python -m mnist_pl fit --help "
        "lists them)",
    ),
    "a wrong option in a group's YAML": (
        ["--data={batch_size: abc}"],
        "error: --data.batch_size abc: expected an int > 0",
    ),
    "not one of": (["--data.dataset=Foo"], "--data.dataset Foo: expected one of 'MNIST', 'FashionMNIST', 'KMNIST'"),
    "std zero": (["--data.std=0"], "error: --data.std 0: expected a number > 0"),
    "seed numpy cannot take": (
        ["--seed_everything=-1"],
        "error: --seed_everything -1: expected an int from 0 to 4294967295",
    ),
    # Its top: Lightning's own line named no option ("not in bounds, numpy accepts ..."; a mutation audit).
    "seed past numpy's": (
        ["--seed_everything=4294967296"],
        "error: --seed_everything 4294967296: expected an int from 0 to 4294967295",
    ),
    "misspelled class argument": (
        ["--trainer.logger.init_args.save_dri=x"],
        "error: --trainer.logger.init_args.save_dri: lightning.pytorch.loggers.TensorBoardLogger takes no argument "
        "'save_dri': did you mean save_dir? (--trainer.logger.help lightning.pytorch.loggers.TensorBoardLogger lists "
        "them)",
    ),
    "a list for a number": (
        ["--data.augment=mnist_pl.augment.RandomAffine", "--data.augment.scale=[0, 1]"],
        "error: --data.augment.init_args.scale [0, 1]: expected a finite number > 0",
    ),
    "zero width": (
        ["--model.net=mnist_pl.nets.MinimalCNN", "--model.net.width=0"],
        "error: --model.net.init_args.width 0: expected an int > 0",
    ),
    # a ZeroDivisionError in torchvision's make_grid, after the first training batch
    "no images for the grids": (
        ["--trainer.callbacks+=mnist_pl.callbacks.ImageLogger", "--trainer.callbacks.max_images=0"],
        "error: --trainer.callbacks.init_args.max_images 0: expected an int > 0",
    ),
    "negative rotation": (
        ["--data.augment=mnist_pl.augment.RandomAffine", "--data.augment.degrees=-10"],
        "error: --data.augment.init_args.degrees -10: expected a finite number >= 0",
    ),
    # uniform_'s "from is out of bounds for float" in the first batch, a traceback
    "an endless rotation": (
        ["--data.augment=mnist_pl.augment.RandomAffine", "--data.augment.degrees=inf"],
        "error: --data.augment.init_args.degrees inf: expected a finite number >= 0",
    ),
    "an endless zoom": (
        ["--data.augment=mnist_pl.augment.RandomAffine", "--data.augment.scale=[1,inf]"],
        "error: --data.augment.init_args.scale [1, 'inf']: expected a finite number > 0",
    ),
    # tan(90 degrees): the images sheared out of their frames, without a word
    "a shear of a right angle": (
        ["--data.augment=mnist_pl.augment.RandomAffine", "--data.augment.shear=90"],
        "error: --data.augment.init_args.shear 90: expected a number from 0 to below 90",
    ),
}


def test_an_argument_refused_before_a_config_whose_class_takes_none_either(tmp_path: Path) -> None:
    """Adam, the default, takes no momentum: "give it after the --config" was refused in turn, the file's
    Adadelta taking none either (a review)."""
    (tmp_path / "adadelta.yaml").write_text("model:\n  optimizer:\n    class_path: torch.optim.Adadelta\n")
    result = run_main("fit", "--model.optimizer.momentum=0.5", "--config=adadelta.yaml", "--print_config", cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.splitlines()[-1] == (
        "error: --model.optimizer.init_args.momentum: torch.optim.Adam takes no argument 'momentum': nor does "
        "torch.optim.Adadelta, which a later --config names: leave it out (--model.optimizer.help "
        "torch.optim.Adadelta lists them)"
    )


@pytest.mark.parametrize("case", PARSER_CASES)
def test_config_mistakes_jsonargparse_reports(
    run: Run, case: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    args, expected = PARSER_CASES[case]
    (run.root / "bad.yaml").write_text("trainer:\n  max_epochs: [1\n")
    (run.root / "binary.yaml").write_bytes(b"\xff\xfe garbage")
    (run.root / "best.ckpt").write_bytes(b"PK\x03\x04\x80\x81 a checkpoint's zip")
    (run.root / "emptylisted.yaml").write_text(
        "trainer:\n  callbacks:\n  - class_path: lightning.pytorch.callbacks.EarlyStopping\n    init_args:\n"
    )
    (run.root / "bell.yaml").write_text("trainer:\n  max_epochs: 1\x07\n")
    (run.root / "badcallback.yaml").write_text(
        "trainer:\n  callbacks:\n  - class_path: lightning.pytorch.callbacks.EarlyStopping\n    init_args:\n"
        "      monitor: val/loss\n      patience: abc\n"
    )
    (run.root / "netnull.yaml").write_text("model:\n  net: ~\n")
    (run.root / "adadelta.yaml").write_text("model:\n  optimizer:\n    class_path: torch.optim.Adadelta\n")
    (run.root / "empty.yaml").write_text("")
    (run.root / "dotted.yaml").write_text("trainer:\n  max_epochs: 2\ntrainer.max_epochs: 3\n")
    (run.root / "twice.yaml").write_text("model:\n  optimizer:\n    init_args:\n      lr: 0.1\n      lr: 0.01\n")
    (run.root / "flow.yaml").write_text("model: {optimizer: {init_args: {lr: 1, lr: 2}}}\n")
    (run.root / "twicedata.yaml").write_text("batch_size: 64\nbatch_size: 128\n")
    (run.root / "twosections.yaml").write_text("trainer:\n  max_epochs: 1\ntrainer:\n  max_epochs: 2\n")
    (run.root / "list.yaml").write_text("- 1\n")
    (run.root / "vallist.yaml").write_text("data:\n  val_size: [5000]\n")
    (run.root / "section.yaml").write_text("data: 5\n")
    (run.root / "predictions.yaml").write_text("predictions: [1, 2]\n")
    (run.root / "badkey.yaml").write_text("trainer:\n  max_epoch: 3\n")
    (run.root / "lightnings.yaml").write_text("optimizer:\n  class_path: torch.optim.SGD\n")
    (run.root / "flags.yaml").write_text("save-model: true\n")
    (run.root / "modelgroup.yaml").write_text("net:\n  class_path: mnist_pl.nets.MinimalCNN\n  init_args: {widht: 3}\n")
    (run.root / "badvalue.yaml").write_text("data:\n  batch_size: abc\n")
    (run.root / "sub").mkdir(exist_ok=True)
    for name in ("badvalue.yaml", "badkey.yaml"):
        shutil.copy(run.root / name, run.root / "sub" / name)
    (run.root / "badlr.yaml").write_text("model:\n  optimizer:\n    class_path: torch.optim.Adam\n    lr: abc\n")
    (run.root / "null.yaml").write_text("data:\n  batch_size: null\n")
    (run.root / "flatlogger.yaml").write_text(
        'trainer:\n  logger:\n    class_path: TensorBoardLogger\n    save_dir: "a: b"\n    version: null\n'
    )
    (run.root / "flat.yaml").write_text("model:\n  optimizer:\n    class_path: torch.optim.Adam\n    lr: 0.1\n")
    (run.root / "emptysection.yaml").write_text("trainer:\n  max_epochs: 1\ndata:\n")
    (run.root / "emptyargs.yaml").write_text("model:\n  optimizer:\n    class_path: torch.optim.SGD\n    init_args:\n")
    (run.root / "nulls.yaml").write_text("model:\n  label_smoothing: 0.1\n  channels_last: null\n")
    (run.root / "nooptimizer.yaml").write_text("model:\n  optimizer: null\n")
    (run.root / "badarg.yaml").write_text("model:\n  optimizer:\n    init_args:\n      momentun: 0.9\n")
    (run.root / "badclass.yaml").write_text("model:\n  net: mnist_pl.nets.LeNet5\n")
    (run.root / "othernet.yaml").write_text("model:\n  net: torch.optim.SGD\n")
    (run.root / "badnet.yaml").write_text(
        "model:\n  net:\n    class_path: mnist_pl.nets.MinimalCNN\n    init_args:\n      widht: 3\n"
    )
    monkeypatch.chdir(run.root)
    monkeypatch.setattr(sys, "argv", ["mnist_pl"])  # the args below are the whole command line
    before = run.snapshot()
    with pytest.raises(SystemExit) as exit_:
        MNISTCLI(args=["fit", f"--config={run.config}", DATA, run.logs_arg, *args])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert expected in err
    # A one-line usage, the tip and the error: not argparse's generated usage of all ~80 options.
    assert err.splitlines()[:2] == ["usage: mnist_pl [options] fit [options]", TIP], err
    assert len(err.splitlines()) == 3 and err.splitlines()[2].startswith("error: "), err
    assert run.snapshot() == before


@pytest.mark.slow  # an edge of the default suite's checks: its time (a slower host took 302 s)
def test_the_largest_batch_sizes_are_taken(run: Run, tmp_path: Path) -> None:
    """The bound on batch sizes is the batch sampler's own, far above any split: a larger batch is the whole split."""
    largest = [f"--data.batch_size={2**63 - 1}", f"--data.eval_batch_size={2**63 - 1}"]
    logs = f"--trainer.logger.init_args.save_dir={tmp_path}"
    result = run_main("test", f"--ckpt_path={run.best}", DATA, logs, *largest, cwd=tmp_path)
    assert result.returncode == 0 and "test/acc" in result.stdout, result.stderr[-3000:]
    dm = MNISTDataModule(data_dir=str(REPO / "data"), batch_size=2**63 - 1, eval_batch_size=2**63 - 1)
    dm.setup("fit")
    dm.setup("test")
    loaders = (dm.train_dataloader(), dm.val_dataloader(), dm.test_dataloader())
    assert [[len(labels) for _, labels in loader] for loader in loaders] == [[55000], [5000], [10000]]


def test_merges_that_override_are_no_key_written_twice() -> None:
    """Checked before merges are flattened: a mapping that overrides a key it merges, merged again
    elsewhere, was taken for one written twice (its flattened copy and its own)."""
    text = "a:\n  x: &o\n    <<: {lr: 1}\n    lr: 2\ny:\n  <<: *o\n  momentum: 0.9\nz: [*o, *o]\n"
    assert yaml.load(text, Loader=_UniqueKeys) == {
        "a": {"x": {"lr": 2}},
        "y": {"lr": 2, "momentum": 0.9},
        "z": [{"lr": 2}, {"lr": 2}],
    }


def test_a_main_parser_config_named_like_a_subcommand(
    run: Run, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    # `-c test fit`: the subcommand is fit, and a mistake in the file is named with the file.
    (run.root / "test").write_text("fit:\n  model:\n    optimizer:\n      init_args:\n        momentun: 0.9\n")
    monkeypatch.chdir(run.root)
    monkeypatch.setattr(sys, "argv", ["mnist_pl"])
    with pytest.raises(SystemExit):
        MNISTCLI(args=["-c", "test", "fit", DATA, run.logs_arg])  # the default optimizer: Adam
    assert capsys.readouterr().err.splitlines() == [
        "usage: mnist_pl [options] fit [options]",
        TIP,
        "error: test: model.optimizer.init_args.momentun: torch.optim.Adam takes no argument 'momentun': "
        "fix the key (--model.optimizer.help torch.optim.Adam lists them)",
    ]
    (run.root / "test").write_text("fit:\n  trainer:\n    max_epochs: 1\n")
    with pytest.raises(SystemExit):
        MNISTCLI(
            args=["-c", "test", "fit", DATA, run.logs_arg, "--model.scheduler=torch.optim.lr_scheduler.OneCycleLR"]
        )
    assert capsys.readouterr().err.splitlines()[0] == "usage: mnist_pl [options] fit [options]"


@pytest.mark.parametrize(
    ("subcommand", "args", "expected"),
    [
        (
            "fit",
            [],
            "error: --data.val_size 0 holds out no validation images: give --trainer.limit_val_batches 0 as well (a "
            "fit without validation, which tests its last weights), or give a val_size, such as 5000",
        ),
        (  # without a checkpoint (one trained on all 60,000 is test_cli's), from a run's config: said first
            "validate",
            ["--trainer.limit_val_batches=0"],
            "error: --data.val_size 0 holds out no validation images: validate needs some: give a val_size, such as "
            "5000",
        ),
    ],
)
def test_a_val_size_of_0_asks_for_no_validation(
    run: Run,
    subcommand: str,
    args: list[str],
    expected: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    """With no validation images, Lightning would look for batches that are not there."""
    monkeypatch.chdir(run.root)
    given = [f"--config={run.config}", DATA, run.logs_arg, "--data.val_size=0", *args]
    monkeypatch.setattr(sys, "argv", ["mnist_pl", subcommand, *given])
    before = run.snapshot()
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 1
    assert run.snapshot() == before
    assert capsys.readouterr().err.splitlines()[-1] == expected


def test_val_size_too_big(run: Run, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    # Refused while the DataModule is built, before the Trainer: in this process, through main().
    assert run.refused_fit(monkeypatch, capsys, "--data.val_size=60000") == (
        "error: --data.val_size 60000 leaves no training images: use fewer than 60000"
    )


@pytest.mark.slow  # an edge of the default suite's checks: its time (a slower host took 302 s)
def test_a_value_our_checks_refuse_is_named_where_it_was_written(
    run: Run, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """jsonargparse's refusals name the config file; ours named an option the command line did not have.
    The command line is read as the parser applies it: the last word or file that sets the key."""
    files = {
        "val.yaml": "data:\n  val_size: 60000\n",
        "lr.yaml": "model:\n  optimizer:\n    class_path: torch.optim.Adam\n    init_args:\n      lr: -1\n",
        "lre.yaml": "model:\n  optimizer:\n    init_args:\n      lr: -1e-3\n",  # a string to YAML 1.1
        "group.yaml": "val_size: 60000\n",  # a file of the data group's options: --data group.yaml
        "main.yaml": "test:\n  data:\n    val_size: 60000\n",  # a main-parser config: test's section only
    }
    for name, text in files.items():
        (run.root / name).write_text(text)
    monkeypatch.chdir(run.root)
    before = run.snapshot()
    refused = "60000 leaves no training images: use fewer than 60000"
    for before_fit, args, expected in (
        ([], ["--config=val.yaml"], f"error: val.yaml: data.val_size {refused}"),
        ([], ["--config=lr.yaml"], "error: lr.yaml: model.optimizer.init_args.lr -1.0: must be > 0: give a positive"),
        ([], ["--config=lre.yaml"], "error: lre.yaml: model.optimizer.init_args.lr -0.001: must be > 0"),
        ([], ["--data", "group.yaml", "--config=val.yaml"], f"error: val.yaml: data.val_size {refused}"),
        ([], ["--config=val.yaml", "--data.val_size=60000"], f"error: --data.val_size {refused}"),
        ([], ["--config=val.yaml", "--data", "group.yaml"], f"error: group.yaml: val_size {refused}"),
        (["-c", "main.yaml"], ["--data=group.yaml"], f"error: group.yaml: val_size {refused}"),
    ):
        command = ["mnist_pl", *before_fit, "fit", f"--config={run.config}", *args, DATA, run.logs_arg]
        monkeypatch.setattr(sys, "argv", command)
        with pytest.raises(SystemExit) as exit_:
            main()
        assert exit_.value.code == 1
        assert capsys.readouterr().err.splitlines()[-1].startswith(expected), command
    assert run.snapshot() == before


TRAINER_CASES = {
    # Each process reads its own clock: they validated at different steps, and waited on each other (a review).
    "validations by the clock under DDP": (
        (
            "--trainer.strategy=ddp",
            "--trainer.devices=2",
            "--trainer.accelerator=cpu",
            "--trainer.val_check_interval=00:00:00:30",
        ),
        "error: --trainer.val_check_interval 30 s: a time, under DDP: each process reads its own clock",
    ),
    # Lightning's own words, one after the other: a logger, then a profiler the user never gave, then
    # the ModelCheckpoint every run has
    "barebones": (
        "--trainer.barebones=true",
        "error: --trainer.barebones true: it turns off the logger, checkpoints and profiler, which every run of "
        "the app keeps: leave it out (--trainer.enable_progress_bar false, --trainer.enable_model_summary false "
        "quiet a run)",
    ),
    # Taken without a word, and unused: the logger's save_dir is the run's folder
    "a root dir beside the logger's": (
        "--trainer.default_root_dir=elsewhere",
        "error: --trainer.default_root_dir elsewhere: the run's folder is the logger's: give "
        "--trainer.logger.init_args.save_dir elsewhere",
    ),
    "gpu without a gpu": (
        "--trainer.accelerator=gpu",
        "error: --trainer.accelerator gpu: PyTorch sees no CUDA GPU on this machine: use --trainer.accelerator cpu",
    ),
    # Lightning's MisconfigurationException, its message as the one line
    "lightning refuses": (
        "--trainer.gradient_clip_algorithm=foo",
        "error: `gradient_clip_algorithm` foo is invalid. Allowed algorithms: ['value', 'norm'].",
    ),
    # Lightning's ValueError, ImportError and TypeError as it builds the Trainer, the same way
    "lightning's ValueError": ("--trainer.num_nodes=0", "error: `num_nodes` must be a positive integer, but got 0."),
    "tpu without torch_xla": ("--trainer.accelerator=tpu", "error: Requirement 'torch_xla"),
    "lightning's TypeError": ("--trainer.devices=-2", "error: `devices` selected with `CPUAccelerator` should be"),
    # Ours: Lightning would find it missing after the first epoch, leaving a run without checkpoints
    "a monitored metric the model does not log": (
        "--checkpoint.monitor=val/accuracy",
        "error: --checkpoint.monitor val/accuracy: the model logs no metric of that name once per epoch: "
        "give one of train/loss, train/acc, val/loss, val/acc, val/acc_best",
    ),
    # Lightning's own examples name it val_loss: a traceback of EarlyStopping's, an epoch in
    "a monitored metric in Lightning's spelling": (
        ("--trainer.callbacks+=EarlyStopping", "--trainer.callbacks.monitor=val_loss"),
        "error: --trainer.callbacks EarlyStopping monitor val_loss: the model logs no metric of that name once per "
        "epoch: give val/loss",
    ),
    # A RuntimeError traceback of EarlyStopping's after the first epoch, which had no validation (an audit)
    "an early stop on validations that never run": (
        ("--trainer.callbacks+=EarlyStopping", "--trainer.callbacks.monitor=val/acc", "--trainer.limit_val_batches=0"),
        "error: --trainer.callbacks EarlyStopping monitor val/acc: --trainer.limit_val_batches 0 runs no validation: "
        "give validation batches, or monitor a train/ metric",
    ),
    # Its fix, validation batches, was refused as a val_size of 0 asks for none
    "an early stop on a split of no images": (
        (
            "--trainer.callbacks+=EarlyStopping",
            "--trainer.callbacks.monitor=val/acc",
            "--trainer.limit_val_batches=0",
            "--data.val_size=0",
        ),
        "error: --trainer.callbacks EarlyStopping monitor val/acc: --data.val_size 0 holds out no validation images: "
        "give a val_size, such as 5000, and validation batches, or monitor a train/ metric",
    ),
    "a scheduler's monitored metric in another spelling": (
        ("--model.scheduler=lightning.pytorch.cli.ReduceLROnPlateau", "--model.scheduler.init_args.monitor=Val.Acc"),
        "error: --model.scheduler.init_args.monitor Val.Acc: the model logs no metric of that name once per epoch: "
        "give val/acc",
    ),
    # Lightning's words named no fix: "`max_epochs` must be a non-negative integer or -1. You passed in -5."
    "a negative number of epochs": (
        "--trainer.max_epochs=-5",
        "error: --trainer.max_epochs -5: must be 0 or more, or -1 for no limit: give a number of epochs",
    ),
    # "`Trainer(devices='0')` value is not a valid input using cpu accelerator."
    "no devices": ("--trainer.devices=0", "error: --trainer.devices 0: a run needs a device: give 1 or more, or auto"),
    # Lightning's words named its Timer, which the user never gave: "`Timer(duration='1h')` is not a valid duration."
    "a time limit in another format": (
        "--trainer.max_time=1h",
        "error: --trainer.max_time 1h: a duration DD:HH:MM:SS: give 00:01:00:00 for an hour",
    ),
    # Ours: Lightning ran no sanity check, without a word
    "a negative number of sanity steps": (
        "--trainer.num_sanity_val_steps=-2",
        "error: --trainer.num_sanity_val_steps -2: must be 0 or more, or -1 for every validation batch: give a "
        "number of batches, or 0 for no check before training",
    ),
    # "You have passed invalid value -1 for limit_train_batches, it has to be in [0.0, 1.0] or an int." (an audit)
    "a negative batch limit": (
        "--trainer.limit_train_batches=-1",
        "error: --trainer.limit_train_batches -1: give a number of batches (0 or more), or a fraction of them from 0.0 "
        "to 1.0 (1.0: all)",
    ),
    "a fraction of batches past 1": (
        "--trainer.limit_val_batches=1.5",
        "error: --trainer.limit_val_batches 1.5: give a number of batches (0 or more), or a fraction of them from 0.0 "
        "to 1.0 (1.0: all)",
    ),
    # Ours: Lightning divides by it unchecked
    "a zero lightning divides by": (
        "--trainer.check_val_every_n_epoch=0",
        "error: --trainer.check_val_every_n_epoch 0: must be greater than 0",
    ),
    # Ours: Lightning's own words name a ModelCheckpoint the user cannot leave out
    "checkpointing off": (
        "--trainer.enable_checkpointing=false",
        "error: --trainer.enable_checkpointing false: the run's checkpoints are the config's checkpoint: section, "
        "always there: for none, give --checkpoint.save_top_k 0 --checkpoint.save_last false",
    ),
    # Ours: Lightning would not clip, without a word
    "a negative clip value": (
        "--trainer.gradient_clip_val=-1",
        "error: --trainer.gradient_clip_val -1: must be 0 or more: give a positive value, or 0 for no clipping",
    ),
    # Lightning's own logger took the config's place: the run went to ./lightning_logs, status 0
    "the default logger": (
        "--trainer.logger=true",
        "error: --trainer.logger true: Lightning's default logger would replace the app's, its runs in "
        "./lightning_logs: leave the option out (--trainer.logger.init_args.save_dir chooses the folder)",
    ),
    "two checkpoints, neither --checkpoint": (  # --checkpoint monitors val/acc
        '--trainer.callbacks=[{"class_path": "lightning.pytorch.callbacks.ModelCheckpoint", "init_args": {"monitor": '
        '"val/loss"}}, {"class_path": "lightning.pytorch.callbacks.ModelCheckpoint", "init_args": {"monitor": '
        '"val/loss"}}]',
        "error: --trainer.callbacks: two ModelCheckpoint callbacks of the same settings, whose states",
    ),
    "no logger, null": ("--trainer.logger=null", "error: --trainer.logger null: Lightning's default logger would"),
    # Lightning's RuntimeError, a traceback: both checkpoints' states would go under one key
    "a second checkpoint like --checkpoint": (
        '--trainer.callbacks+={"class_path": "lightning.pytorch.callbacks.ModelCheckpoint", '
        '"init_args": {"monitor": "val/acc", "mode": "max", "save_top_k": 3}}',
        "error: --trainer.callbacks: two ModelCheckpoint callbacks of the same settings (--checkpoint is one), whose "
        "states a checkpoint would keep under one key: change one's monitor or mode (or its "
        "every_n_epochs, every_n_train_steps), or leave one out",
    ),
}


def test_a_misspelt_option_before_the_subcommand_is_named(tmp_path: Path) -> None:
    """`--confi configs/lenet.yaml fit`: "configs/lenet.yaml is no subcommand", of a word no one meant for one (a
    review)."""
    result = run_main("--confi", "configs/lenet.yaml", "fit", cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.splitlines()[-1] == (
        "error: --confi is no option here: did you mean --config?: give the subcommand first, then its options "
        "(fit --config configs/lenet.yaml)"
    ), result.stderr[-3000:]


def test_a_config_given_before_its_subcommand_says_where_it_goes(tmp_path: Path) -> None:
    """jsonargparse named an option the user never typed: "Option 'trainer.logger.init_args.save_dir' is not
    accepted before subcommand 'fit'"."""
    lenet = REPO / "configs" / "lenet.yaml"
    for config in (["--config", str(lenet)], ["-c", str(lenet)]):
        result = run_main(*config, "fit", cwd=tmp_path)
        assert result.returncode == 2 and result.stderr.splitlines()[-1] == (
            f"error: {lenet}: settings of fit, given before it: put --config after fit "
            f"(python -m mnist_pl fit --config {lenet}), or them under 'fit:' in the file"
        ), result.stderr[-3000:]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow  # several parses and a fit, of one message
def test_an_option_before_a_config_that_sets_it_is_refused(tmp_path: Path) -> None:
    """The config file, read after it, set it again: a fit of 10 epochs for --trainer.max_epochs 3, without a word."""
    lenet = REPO / "configs" / "lenet.yaml"
    callbacks = tmp_path / "callbacks.yaml"  # a list in a file replaces the list before it
    callbacks.write_text("trainer:\n  callbacks:\n    - class_path: lightning.pytorch.callbacks.LearningRateMonitor\n")
    cases = {
        ("--trainer.max_epochs=3", "--config", lenet): f"--trainer.max_epochs 3 is given before --config {lenet}, "
        "which sets trainer.max_epochs: 10 and wins: give --trainer.max_epochs after --config",
        ("--model.optimizer.lr", "0.1", "-c", lenet): f"--model.optimizer.lr 0.1 is given before -c {lenet}, which "
        "sets model.optimizer.lr: 0.01 and wins: give --model.optimizer.lr after -c",
        ("--model.net=TwoConvNet", f"--config={lenet}"): f"--model.net TwoConvNet is given before --config {lenet}, "
        "which sets model.net: mnist_pl.nets.LeNet and wins: give --model.net after --config",
        ("--trainer.callbacks+=lightning.pytorch.callbacks.Timer", f"--config={callbacks}"): "--trainer.callbacks+ "
        f"lightning.pytorch.callbacks.Timer is given before --config {callbacks}, which sets trainer.callbacks: "
        "[lightning.pytorch.callbacks.LearningRateMonitor] and wins: give --trainer.callbacks+ after --config",
    }
    # A list in the file replaces what was given inside it.
    loggers = tmp_path / "loggers.yaml"
    loggers.write_text("trainer:\n  logger:\n    - class_path: lightning.pytorch.loggers.CSVLogger\n")
    cases[("--trainer.logger.init_args.save_dir=runs", f"--config={loggers}")] = (
        f"--trainer.logger.init_args.save_dir runs is given before --config {loggers}, which sets trainer.logger: "
        "[lightning.pytorch.loggers.CSVLogger] and wins: give --trainer.logger.init_args.save_dir after --config"
    )
    # A value the file holds begins with, a dict value, a config given inline.
    cases[("--trainer.logger.init_args.name=lenet 2", "--config", lenet)] = (
        f"--trainer.logger.init_args.name lenet 2 is given before --config {lenet}, which sets "
        "trainer.logger.name: lenet and wins: give --trainer.logger.init_args.name after --config"
    )
    inline = '{"trainer": {"max_time": {"hours": 2}}}'
    cases[("--trainer.max_time=00:01:00:00", f"--config={inline}")] = (
        f"--trainer.max_time 00:01:00:00 is given before --config {inline}, which sets trainer.max_time: "
        "{'hours': 2} and wins: give --trainer.max_time after --config"
    )
    # A value as the file writes it (a bool in lower case), and a negative value given before the file.
    cases[("--test_after_fit=false", f"--config={lenet}")] = (
        f"--test_after_fit false is given before --config {lenet}, which sets test_after_fit: true and wins: "
        "give --test_after_fit after --config"
    )
    cases[("--model.optimizer.lr", "-0.5", "--config", lenet)] = (
        f"--model.optimizer.lr -0.5 is given before --config {lenet}, which sets model.optimizer.lr: 0.01 and "
        "wins: give --model.optimizer.lr after --config"
    )
    # A run's config.yaml, as a config for a resume: its ckpt_path null dropped the resume.
    config = tmp_path / "config.yaml"
    config.write_text("ckpt_path: null\ntest_after_fit: true\n")
    cases[("--ckpt_path=last.ckpt", "--test_after_fit=false", f"--config={config}")] = (
        f"--ckpt_path last.ckpt is given before --config {config}, which sets ckpt_path: null and wins: "
        "give --ckpt_path after --config"
    )
    # A group's file, or the group given inline: each of its keys the config sets again (batch 64, not 16).
    data = tmp_path / "data.yaml"
    data.write_text("batch_size: 16\nval_size: 5000\n")  # the config's val_size: not in the way
    cases[("--data", data, "--config", lenet)] = (
        f"--data {data} (its batch_size: 16) is given before --config {lenet}, which sets data.batch_size: 64 and "
        "wins: give --data after --config"
    )
    cases[("--model={optimizer: {init_args: {lr: 0.5}}}", "--config", lenet)] = (
        f"--model {{optimizer: {{init_args: {{lr: 0.5}}}}}} (its optimizer.lr: 0.5) is given before "
        f"--config {lenet}, which sets model.optimizer.lr: 0.01 and wins: give --model after --config"
    )
    # Set by a dotted key, or by a config the file names: jsonargparse reads both; the check did not (a review).
    (tmp_path / "dotted.yaml").write_text("trainer.max_epochs: 3\n")
    cases[("--trainer.max_epochs=5", "--config=dotted.yaml")] = (
        "--trainer.max_epochs 5 is given before --config dotted.yaml, which sets trainer.max_epochs: 3 and wins: "
        "give --trainer.max_epochs after --config"
    )
    (tmp_path / "initargs.yaml").write_text("model.optimizer.init_args.lr: 0.05\n")
    cases[("--model.optimizer.lr=0.3", "--config=initargs.yaml")] = (
        "--model.optimizer.lr 0.3 is given before --config initargs.yaml, which sets model.optimizer.lr: 0.05 and "
        "wins: give --model.optimizer.lr after --config"
    )
    (tmp_path / "named.yaml").write_text(f"config: {lenet}\n")
    cases[("--trainer.max_epochs=5", "--config=named.yaml")] = (
        f"--trainer.max_epochs 5 is given before --config named.yaml, whose config {lenet} sets trainer.max_epochs: "
        "10 and wins: give --trainer.max_epochs after --config"
    )
    for args, expected in cases.items():
        result = run_main("fit", *map(str, args), "--print_config", cwd=tmp_path)
        assert result.returncode == 2 and result.stderr.splitlines()[-1] == f"error: {expected}", result.stderr
    # Nothing lost: the same value, or one the file does not set. (Lightning's Timer, its interval an
    # enum, ended any dump of the config in a traceback.)
    # The same value or class, one the file does not set, or one given again after the file.
    # A group's file merged with the config's class arguments, or of the same values (a review of the change).
    merged = tmp_path / "merged.yaml"
    merged.write_text("model:\n  optimizer:\n    init_args:\n      momentum: 0.8\n")
    sgd = "{optimizer: {class_path: torch.optim.SGD, init_args: {lr: 0.1}}}"
    same = "{callbacks: [{class_path: lightning.pytorch.callbacks.LearningRateMonitor}], default_root_dir: 'a: b'}"
    both = tmp_path / "both.yaml"
    both.write_text(f"trainer: {same}\n")
    listed = tmp_path / "listed.yaml"
    listed.write_text(f"config: [{lenet}, 5]\n")  # the 5 ended the check in a traceback (a review)
    for args in (
        ["--model", sgd, "--config", str(merged)],
        ["--trainer", same, "--config", str(both)],
        ["--trainer.max_epochs=10", "--config", str(lenet)],
        ["--model.net=LeNet", "--config", str(lenet)],
        ["--trainer.max_epochs=3", "--config", str(lenet), "--trainer.max_epochs=5"],
        ["--trainer.max_epochs=3", "--config", str(listed)],  # a list there, which jsonargparse reads as none
        ["--trainer.log_every_n_steps=10", "--trainer.callbacks+=Timer", "--config", str(lenet)],
    ):
        result = run_main("fit", *args, "--print_config", cwd=tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
    assert (
        "- class_path: lightning.pytorch.callbacks.Timer\n    init_args:\n      duration: null\n      interval: step"
        in result.stdout
    )
    written = [both, callbacks, config, data, loggers, merged, listed]
    assert sorted(tmp_path.iterdir()) == sorted(
        [*written, *(tmp_path / f"{n}.yaml" for n in ("dotted", "initargs", "named"))]
    )


@pytest.mark.parametrize("case", TRAINER_CASES)
def test_trainer_settings_it_cannot_run_with(
    run: Run, case: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    # Refused while the Trainer is built: in this process, through main().
    arg, expected = TRAINER_CASES[case]
    if case in ("gpu without a gpu", "lightning's TypeError") and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    if case == "tpu without torch_xla" and importlib.util.find_spec("torch_xla") is not None:
        pytest.skip("this machine has torch_xla")
    monkeypatch.chdir(run.root)
    args = arg if isinstance(arg, tuple) else (arg,)
    short = ["--trainer.max_epochs=1", "--trainer.limit_train_batches=1", "--trainer.limit_val_batches=1"]  # if it ran
    monkeypatch.setattr(sys, "argv", ["mnist_pl", "fit", f"--config={run.config}", DATA, run.logs_arg, *short, *args])
    before = run.snapshot()
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 1 and capsys.readouterr().err.splitlines()[-1].startswith(expected)
    assert run.snapshot() == before


@pytest.mark.slow  # an edge of the default suite's checks: its time (the suite neared 5 minutes)
def test_more_machines_than_a_lone_one_is_refused(tmp_path: Path) -> None:
    """--trainer.num_nodes 2 with no cluster and no NODE_RANK waited in torch's rendezvous for machines
    that never come, deaf to Ctrl-C and SIGTERM (an audit killed it after 14 min), leaving an empty run dir.
    In a process of its own, with a limit: a regression waits in C++, where pytest's timeout cannot stop it."""
    env = {key: value for key, value in child_env().items() if key not in ("NODE_RANK", "GROUP_RANK")}
    command = [sys.executable, "-m", "mnist_pl", "fit", "--config", str(REPO / "configs" / "lenet.yaml"), DATA]
    command += ["--trainer.logger.init_args.save_dir=logs", "--trainer.num_nodes=2", *QUICK_FIT]
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert_one_line_error(result, 1, "--trainer.num_nodes 2: ", "NODE_RANK", "leave the option out")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("rank", ["NODE_RANK", "GROUP_RANK"])  # Lightning's docs' name, torchrun's
def test_a_machines_rank_makes_a_run_of_several_machines(monkeypatch: pytest.MonkeyPatch, rank: str) -> None:
    """Set on each machine, it is a run of several machines: not refused (a mutation audit: either name dropped,
    or num_nodes 2 taken for one machine, failed only the slow test's process)."""
    trainer = L.Trainer(num_nodes=2, accelerator="cpu", devices=1, logger=False)
    for name in ("NODE_RANK", "GROUP_RANK"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(UserError, match=r"^--trainer\.num_nodes 2: no cluster"):
        refuse_a_lone_node(trainer)
    monkeypatch.setenv(rank, "1")
    refuse_a_lone_node(trainer)
    monkeypatch.delenv(rank)
    refuse_a_lone_node(L.Trainer(num_nodes=1, accelerator="cpu", devices=1, logger=False))


def test_a_path_of_too_long_a_name_ends_in_one_line(tmp_path: Path) -> None:
    """pathlib's exists() and is_file() raise for a name past 255 bytes (they return False for a missing file): a
    config, a checkpoint or an inline YAML of that length ended in an OSError traceback (a review)."""
    long = "x" * 300
    for args in (
        ["fit", f"--config={long}.yaml"],
        ["test", f"--ckpt_path={long}.ckpt"],
        ["export", f"--ckpt_path={long}.ckpt"],
        ["fit", "--trainer", "{max_epochs: 2, " + ", ".join(["limit_val_batches: 1"] * 12)],  # no closing }
    ):
        result = run_main(*args, cwd=tmp_path)
        assert result.returncode in (1, 2) and "Traceback" not in result.stderr, result.stderr[-3000:]
        last = result.stderr.strip().splitlines()[-1]
        assert last.startswith("error: ") and "File name too long: give a shorter name" in last, args
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow  # an edge of the default suite's checks: its time (the suite neared 5 minutes)
def test_output_into_a_closed_pipe_ends_in_one_line(tmp_path: Path) -> None:
    """`python -m mnist_pl.table ... | head -1`: the next row's print ended in a BrokenPipeError traceback (an
    audit), and Python's own "Exception ignored ... BrokenPipeError" as stdout flushed at exit."""
    script = "from mnist_pl.errors import reported\nwith reported():\n    while True:\n        print('row', flush=1)\n"
    command = [sys.executable, "-c", script]
    with subprocess.Popen(command, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        assert proc.stdout.readline() == "row\n"
        proc.stdout.close()  # as head does, once it has its line
        stderr = proc.stderr.read()
    assert proc.returncode == 1 and stderr.splitlines() == [
        "error: its output was closed as it printed (the reader of a pipe ended, such as head): let the reader read "
        "to the end, or send the output to a file (> out.txt)"
    ], stderr[-3000:]


def test_only_what_the_user_can_fix_becomes_one_line_and_the_threads_hook_is_given_back() -> None:
    """An OSError other than a name too long is a bug (its traceback stays, not "give a shorter name"); TensorBoard
    writer's full disk is said once, by the run, and every other thread's error reaches the hook there was, which
    is the hook again once the block ends (a mutation audit of each)."""
    with pytest.raises(PermissionError), reported():
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), "x")
    seen: list[BaseException] = []
    before = threading.excepthook
    threading.excepthook = hook = lambda args: seen.append(args.exc_value)
    try:

        class _AsyncWriterThread(threading.Thread):  # TensorBoard's writer, known by its class's name
            pass

        full, bug, other_full = OSError(errno.ENOSPC, "full"), ValueError("a bug"), OSError(errno.ENOSPC, "full")
        with reported():
            for thread, err in ((_AsyncWriterThread, full), (_AsyncWriterThread, bug), (threading.Thread, other_full)):

                def fail(err: BaseException = err) -> None:
                    raise err

                started = thread(target=fail)
                started.start()
                started.join()
        assert seen == [bug, other_full]
        assert threading.excepthook is hook
    finally:
        threading.excepthook = before


def test_only_lightnings_own_value_errors_become_one_line() -> None:
    # A ValueError from this app's code or from torch is a bug: main() keeps its traceback.
    errors = []
    for raise_it in (lambda: L.Trainer(num_nodes=0), lambda: torch.zeros(2).view(3), lambda: int("x")):
        try:
            raise_it()
        except (ValueError, RuntimeError) as err:
            errors.append(err)
    # Nor from code in a folder named lightning (a checkout there): not Lightning's package.
    try:
        exec(compile("raise ValueError('a bug')", "/home/me/lightning/mnist_pl/model.py", "exec"))
    except ValueError as err:
        errors.append(err)
    assert [_raised_by_lightning(err) for err in errors] == [True, False, False, False]


@pytest.mark.parametrize(("accelerator", "refused"), [("gpu", False), ("cuda", True)])
def test_an_apple_gpu_is_a_gpu(monkeypatch: pytest.MonkeyPatch, accelerator: str, refused: bool) -> None:
    # Lightning runs --trainer.accelerator gpu on a Mac's MPS; it was refused as no CUDA GPU.
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    settings = Namespace(accelerator=accelerator, logger=False)
    if refused:
        with pytest.raises(UserError, match="PyTorch sees no CUDA GPU"):
            refuse_bad_settings(settings, "test")
    else:
        refuse_bad_settings(settings, "test")


@pytest.mark.parametrize("save_dir", [None, "new/logs"], ids=["logs", "a new save_dir"])
def test_a_setting_lightning_refuses_when_fit_starts(run: Run, save_dir: str | None) -> None:
    # Checked by Lightning once it knows the epoch's length, after the run dir was made: the fit
    # gives its dir back, config and curves of a run that never trained, and the folders it made
    # for it (new/logs/lenet were left behind, empty).
    before = run.snapshot()
    elsewhere = [f"--trainer.logger.init_args.save_dir={run.root / save_dir}"] if save_dir else []
    result = run.fit("--trainer.val_check_interval=500", *elsewhere)
    assert_one_line_error(result, 1, "error: `val_check_interval` (500) must be less than or equal", "(60)")
    assert run.snapshot() == before


@pytest.mark.parametrize("subcommand, stage", [("validate", "val"), ("test", "test")])
def test_evaluating_without_a_checkpoint_warns(
    subcommand: str, stage: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    logs = f"--trainer.logger.init_args.save_dir={tmp_path}"
    with pytest.warns(UserWarning, match=f"{subcommand}: no --ckpt_path, so the network has random weights"):
        MNISTCLI(args=[subcommand, DATA, logs, f"--trainer.limit_{stage}_batches=2"])


# Ours: checked before anything is written, one line, exit 1.
OUR_CASES = {
    # Its default mode, min, cut the lr each time the accuracy rose, without a word
    "a plateau schedule the wrong way round": (
        ["--model.scheduler=lightning.pytorch.cli.ReduceLROnPlateau", "--model.scheduler.init_args.monitor=val/acc"],
        "error: --model.scheduler ReduceLROnPlateau monitors val/acc in mode min: it would cut the lr as val/acc "
        "improves: give --model.scheduler.init_args.mode max",
    ),
    # A blank input to the network; the run's own checkpoints were then refused as damaged
    "std infinite": (["--data.std=inf"], "error: --data.std inf: expected a finite number > 0"),
    "lr negative": (["--model.optimizer.init_args.lr=-1"], "lr -1.0: must be > 0"),
    "lr zero": (["--model.optimizer.init_args.lr=0"], "lr 0.0: must be > 0"),  # slow: the lr < 0 code path
    "bad optimizer arg": (["--model.optimizer.init_args.momentum=-0.5"], "--model.optimizer: Invalid momentum value"),
    # Taken without a word: the velocity never fades, the loss went to nan in the first epoch (an audit)
    "momentum of 1 or more": (
        ["--model.optimizer.init_args.momentum=1"],
        "error: --model.optimizer.init_args.momentum 1.0: at 1 or more the velocity never fades and the weights "
        "diverge: give 0 <= momentum < 1 (0.9 is usual)",
    ),
    # YAML's .inf and .nan are floats, which the parser took: the loss was nan at step 2, the fix given "lower lr"
    "an lr of YAML's .inf": (
        ["--model.optimizer.init_args.lr=.inf"],
        "error: --model.optimizer.init_args.lr inf: expected a finite float",
    ),
    # torch's TypeError ('<' not supported between NoneType and float) in a traceback of 35 lines (a review)
    "an lr of null": (
        ["--model.optimizer.init_args.lr=null"],
        "error: --model.optimizer.init_args.lr null: SGD needs a value: give one, such as its default, 0.001",
    ),
    "a schedule's setting of YAML's .nan": (
        ["--model.scheduler=OneCycleLR", "--model.scheduler.init_args.max_lr=.nan"],
        "error: --model.scheduler.init_args.max_lr nan: expected a finite float",
    ),
    # Lightning's words named another call: "... and have passed `clip_gradients(gradient_clip_val=nan)`"
    # Lightning's words named no option: "Invalid time format for `val_check_interval`: 'nan'. Expected 'DD:HH:MM:SS'."
    "a validation interval of the word nan": (
        ["--trainer.val_check_interval=nan"],
        "error: --trainer.val_check_interval nan: give a number of batches (an int), a fraction of each epoch (a "
        "float, 1.0 at most) or a time, DD:HH:MM:SS",
    ),
    "a clip value of YAML's .nan": (
        ["--trainer.gradient_clip_val=.nan"],
        "error: --trainer.gradient_clip_val nan: expected a finite float",
    ),
    # nan passed the range check of the limits, and Lightning's words named no option
    "a limit of YAML's .nan": (
        ["--trainer.limit_train_batches=.nan"],
        "error: --trainer.limit_train_batches nan: expected a finite float",
    ),
    "a validation interval of YAML's .inf": (
        ["--trainer.val_check_interval=.inf"],
        "error: --trainer.val_check_interval inf: expected a finite float",
    ),
    # Lightning's words: "invalid value -1 for overfit_batches, it has to be in [0.0, 1.0] or an int"
    "a negative overfit": (
        ["--trainer.overfit_batches=-1"],
        "error: --trainer.overfit_batches -1: give a number of batches (0 or more), or a fraction of them from 0.0 "
        "to 1.0 (1.0: all)",
    ),
    "no logger": (["--trainer.logger=false"], "--trainer.logger false: a fit keeps its config, checkpoints"),
    # Lightning's AssertionError as it saved the config (MLflow with a remote tracking URI keeps no folder either)
    "a first logger that keeps no folder": (
        [
            '--trainer.logger=[{"class_path": "lightning.pytorch.loggers.logger.DummyLogger"}, '
            '{"class_path": "lightning.pytorch.loggers.TensorBoardLogger", "init_args": {"save_dir": "logs"}}]'
        ],
        "error: --trainer.logger: the first logger, DummyLogger, keeps no folder (its save_dir is None), where a run "
        "keeps its config and checkpoints: put a TensorBoardLogger or CSVLogger first",
    ),
    "data dir is a file": ([f"--data.data_dir={REPO / 'README.md'}"], "is a file: give the folder that holds MNIST"),
    # The current folder, without a word: 53 MB of MNIST decompressed there, a run in ./lenet/version_0
    "empty data dir": (["--data.data_dir="], "error: --data.data_dir is empty: give a folder, such as data"),
    "empty save dir": (
        ["--trainer.logger.init_args.save_dir="],
        "error: --trainer.logger.init_args.save_dir is empty: give a folder, such as logs",
    ),
    # The run went into the recipe's folder itself (logs/lenet/hparams.yaml, checkpoints/), beside its version_N
    "empty version": (
        ["--trainer.logger.init_args.version="],
        "error: --trainer.logger.init_args.version is empty: give a name, such as mine, or leave it out "
        "(a new version_N for every run)",
    ),
    "a version of the recipe's folder itself": (
        ["--trainer.logger.init_args.version=."],
        "error: --trainer.logger.init_args.version .: names no folder in the recipe's (logs/<name>/): give a "
        "name, such as mine, or leave it out (a new version_N for every run)",
    ),
    # A run dir version_-3, taken without a word (Lightning numbers versions from 0)
    "a negative version": (
        ["--trainer.logger.init_args.version=-3"],
        "error: --trainer.logger.init_args.version -3: give 0 or more, or a name, such as mine, or leave it out "
        "(a new version_N for every run)",
    ),
    "an absolute version": (  # the run went outside logs/<name>/
        ["--trainer.logger.init_args.version=/tmp/elsewhere"],
        "error: --trainer.logger.init_args.version /tmp/elsewhere: names no folder in the recipe's (logs/<name>/)",
    ),
    # The run went to ./version_0, outside logs/, where the tensorboard --logdir logs it named found nothing (an audit).
    "a name above the save_dir": (
        ["--trainer.logger.init_args.name=.."],
        "error: --trainer.logger.init_args.name ..: names no folder in the logger's save_dir: give a name, such as "
        "lenet, or leave it out",
    ),
    # Lightning trained no step and exited 0, leaving a run of config.yaml alone (an audit).
    "a fit of no epochs": (
        ["--trainer.max_epochs=0"],
        "error: --trainer.max_epochs 0: the fit would train nothing: give 1 or more",
    ),
    "a fit of no steps": (
        ["--trainer.max_steps=0"],
        "error: --trainer.max_steps 0: the fit would train nothing: give 1 or more, or -1 (no limit)",
    ),
    "a fit of no batches": (
        ["--trainer.limit_train_batches=0"],
        "error: --trainer.limit_train_batches 0: the fit would train nothing: give a number of batches, or a "
        "fraction of them (1.0: all)",
    ),
    "a fit of no time": (
        ["--trainer.max_time=00:00:00:00"],
        "error: --trainer.max_time 00:00:00:00: the fit would train nothing: give a duration DD:HH:MM:SS, such as "
        "00:01:00:00 for an hour",
    ),
    # The lr went negative, gradient ascent, without a word: 64% to 11% accuracy in an epoch
    "a negative decay factor": (
        [
            "--model.scheduler=torch.optim.lr_scheduler.StepLR",
            "--model.scheduler.step_size=1",
            "--model.scheduler.gamma=-1",
        ],
        "error: --model.scheduler.init_args.gamma -1.0: the lr is multiplied by it: give a factor > 0 "
        "(below 1 to decay)",
    ),
    # It trained 3 epochs, the max, without a word about the min
    "a min_epochs above max_epochs": (
        ["--trainer.min_epochs=5", "--trainer.max_epochs=3"],
        "error: --trainer.min_epochs 5 > --trainer.max_epochs 3: the fit would stop after 3: give "
        "--trainer.max_epochs 5 or more",
    ),
    # Taken without a word, as no minimum (an audit)
    "a negative min_epochs": (
        ["--trainer.min_epochs=-1"],
        "error: --trainer.min_epochs -1: must be 0 or more: give a number of epochs, or leave it out (no minimum)",
    ),
    "a min_steps above max_steps": (
        ["--trainer.min_steps=50", "--trainer.max_steps=20"],
        "error: --trainer.min_steps 50 > --trainer.max_steps 20: the fit would stop after 20: give "
        "--trainer.max_steps 50 or more",
    ),
    # Lightning's MisconfigurationException (val/loss "not available") after the first epoch's training
    "a plateau schedule without validation": (
        ["--model.scheduler=torch.optim.lr_scheduler.ReduceLROnPlateau", "--trainer.limit_val_batches=0"],
        "error: --model.scheduler ReduceLROnPlateau watches val/loss, and --trainer.limit_val_batches 0 runs no "
        "validation: give validation batches, or another schedule",
    ),
    "a plateau schedule on a split of no images": (
        [
            "--model.scheduler=torch.optim.lr_scheduler.ReduceLROnPlateau",
            "--trainer.limit_val_batches=0",
            "--data.val_size=0",
        ],
        "error: --model.scheduler ReduceLROnPlateau watches val/loss, and --data.val_size 0 holds out no validation "
        "images: give a val_size, such as 5000, and validation batches, or another schedule",
    ),
    # Lightning validates under them whatever limit_val_batches says: the data module's Python words, in the model
    # summary's wake
    "a look at a split of no images": (
        ["--data.val_size=0", "--trainer.limit_val_batches=0", "--trainer.fast_dev_run=true"],
        "error: --data.val_size 0 holds out no validation images, and --trainer.fast_dev_run validates whatever "
        "--trainer.limit_val_batches says: leave it out, or give a val_size, such as 5000",
    ),
    "an overfit on a split of no images": (
        ["--data.val_size=0", "--trainer.limit_val_batches=0", "--trainer.overfit_batches=2"],
        "error: --data.val_size 0 holds out no validation images, and --trainer.overfit_batches validates whatever "
        "--trainer.limit_val_batches says: leave it out, or give a val_size, such as 5000",
    ),
    "a plateau schedule with validations across epochs": (
        [
            "--model.scheduler=torch.optim.lr_scheduler.ReduceLROnPlateau",
            "--trainer.check_val_every_n_epoch=null",
            "--trainer.val_check_interval=3",
        ],
        "error: --model.scheduler ReduceLROnPlateau watches val/loss once per epoch, and "
        "--trainer.check_val_every_n_epoch null validates at steps across epochs: give it a number of epochs",
    ),
    "a plateau schedule with validations by the clock": (
        ["--model.scheduler=torch.optim.lr_scheduler.ReduceLROnPlateau", "--trainer.val_check_interval=00:01:00:00"],
        "error: --model.scheduler ReduceLROnPlateau watches val/loss once per epoch, and a "
        "--trainer.val_check_interval of time validates by the clock, not at epochs' ends: give it a number or "
        "fraction of batches",
    ),
    # The lr fell to 0 after the first epoch: training stopped, without a word.
    "a decay factor of 0": (
        ["--model.scheduler=torch.optim.lr_scheduler.ExponentialLR", "--model.scheduler.gamma=0"],
        "error: --model.scheduler.init_args.gamma 0.0: the lr is multiplied by it: give a factor > 0",
    ),
    "zero step size": (
        ["--model.scheduler=torch.optim.lr_scheduler.StepLR", "--model.scheduler.step_size=0"],
        "--model.scheduler.init_args.step_size 0: a period of 0 or less: give 1 or more",
    ),
    # ZeroDivisionError in the first step
    "a cycle of no steps up": (
        [
            "--model.scheduler=torch.optim.lr_scheduler.CyclicLR",
            "--model.scheduler.base_lr=0.001",
            "--model.scheduler.max_lr=0.1",
            "--model.scheduler.step_size_up=0",
        ],
        "error: --model.scheduler.init_args.step_size_up 0: a period of 0 or less: give 1 or more",
    ),
    # A negative lr, gradient ascent, without a word
    "a cosine down to a negative lr": (
        ["--model.scheduler=CosineAnnealingLR", "--model.scheduler.T_max=2", "--model.scheduler.eta_min=-1"],
        "error: --model.scheduler.init_args.eta_min -1.0: an lr the schedule goes to: give 0 or more",
    ),
    # The lr stayed at 0: a run that trained nothing, without a word (a mutation audit)
    "a one-cycle schedule to an lr of 0": (
        ["--model.scheduler=torch.optim.lr_scheduler.OneCycleLR", "--model.scheduler.max_lr=0"],
        "error: --model.scheduler.init_args.max_lr 0.0: an lr the schedule goes to: give more than 0",
    ),
    # A traceback (TypeError: object of type 'SGD' has no len()) as the fit started
    "a chain of schedules": (
        ["--model.scheduler=torch.optim.lr_scheduler.ChainedScheduler"],
        "error: --model.scheduler ChainedScheduler: it chains schedules built on the model's optimizer, which no "
        "config can give: give one schedule (OneCycleLR warms up, then decays)",
    ),
    # A traceback in the first step (SparseAdam does not support dense gradients)
    "an optimizer of sparse gradients": (
        ["--model.optimizer=torch.optim.SparseAdam"],
        "error: --model.optimizer torch.optim.SparseAdam: takes sparse gradients, which no network here makes: "
        "give torch.optim.Adam",
    ),
    # torch's words and "give a valid value in the config or on the command line": no value there would do
    "an optimizer of 2D weights alone": (
        ["--model.optimizer=torch.optim.Muon"],
        "error: --model.optimizer torch.optim.Muon: Muon only supports 2D parameters whereas we found a parameter "
        "with size: torch.Size([20, 1, 5, 5]): the network's convolutions and biases are not 2D: give another "
        "optimizer, such as torch.optim.AdamW",
    ),
    # A traceback in the first step (only 'strong_wolfe' is supported)
    "an unknown line search": (
        ["--model.optimizer=torch.optim.LBFGS", "--model.channels_last=false", "--model.optimizer.line_search_fn=foo"],
        "error: --model.optimizer.init_args.line_search_fn foo: LBFGS knows strong_wolfe alone: give strong_wolfe, "
        "or null (none)",
    ),
    # Replaced by the run's steps without a word, the config keeping them
    "a one-cycle shorter than the run, by epochs": (
        [
            "--model.scheduler=torch.optim.lr_scheduler.OneCycleLR",
            "--model.scheduler.max_lr=0.1",
            "--model.scheduler.epochs=1",
            "--model.scheduler.steps_per_epoch=2",
        ],
        "error: --model.scheduler.init_args.epochs 1 x steps_per_epoch 2: the schedule ends after 2 steps, this run "
        "takes ",
    ),
    "LBFGS on channels-last weights": (["--model.optimizer=torch.optim.LBFGS"], "add --model.channels_last false"),
    # jsonargparse's 20 lines under a traceback
    "a callback that cannot be built": (
        [
            "--trainer.callbacks+=lightning.pytorch.callbacks.EarlyStopping",
            "--trainer.callbacks.monitor=val/acc",
            "--trainer.callbacks.mode=maxx",
        ],
        "error: --trainer.callbacks lightning.pytorch.callbacks.EarlyStopping: cannot be built: "
        "`mode` can be min, max, got maxx: fix its settings, or leave it out",
    ),
    # a traceback in its first step
    "a network that fails on an image": (
        ["--model.net=torch.nn.Linear", "--model.net.in_features=784", "--model.net.out_features=10"],
        "error: --model.net Linear: fails on a 1x28x28 image (mat1 and mat2 shapes cannot be multiplied (28x28 and "
        "784x10)): give a network for MNIST's images",
    ),
    "a checkpoint mode of neither": (
        ["--checkpoint.mode=maxx"],
        "error: --checkpoint.mode maxx: give max (the higher the monitored metric, the better) or min",
    ),
    # Lightning saved the best as last.ckpt, the latest as last-v1.ckpt
    "the best checkpoint named last": (
        ["--checkpoint.filename=last"],
        "error: --checkpoint.filename last: the name of the latest checkpoint: give the best one another name",
    ),
    # Lightning writes the metric's name into the file's: epoch=0-val/acc=0.645.ckpt, in a folder epoch=0-val
    "a metric's name with a slash in a checkpoint's": (
        ["--checkpoint.filename={epoch}-{val/acc:.3f}"],
        "error: --checkpoint.filename {epoch}-{val/acc:.3f}: Lightning writes the metric's name val/acc into the "
        "file's, a folder: add --checkpoint.auto_insert_metric_name false and name it yourself, such as "
        "epoch={epoch}-val_acc={val/acc:.3f}",
    ),
    # Lightning named the run's own last-v1.ckpt, and a resume from it started another run
    "another callback's last.ckpt beside the run's": (
        [
            "--trainer.callbacks+=lightning.pytorch.callbacks.ModelCheckpoint",
            "--trainer.callbacks.monitor=val/loss",
            "--trainer.callbacks.save_last=true",
        ],
        "error: --trainer.callbacks ModelCheckpoint save_last true: it would write a last.ckpt beside the run's own "
        "(Lightning names one of them last-v1.ckpt): give it save_last false, or a dirpath of its own",
    ),
    # Every run's config went there, and the run's last line ended in a traceback
    "an absolute TensorBoard sub_dir": (
        ["--trainer.logger.init_args.sub_dir=/tmp/tb"],
        "error: --trainer.logger.init_args.sub_dir /tmp/tb: a folder inside each run's dir: give a relative one "
        "inside it, such as tb",
    ),
    "a TensorBoard sub_dir above the run's dir": (
        ["--trainer.logger.init_args.sub_dir=../tb"],
        "error: --trainer.logger.init_args.sub_dir ../tb: a folder inside each run's dir: give a relative one "
        "inside it, such as tb",
    ),
    # Lightning's callbacks that need what the app's model does not have: tracebacks as the fit began
    "Lightning's lr finder": (
        ["--trainer.callbacks+=LearningRateFinder"],
        "error: --trainer.callbacks LearningRateFinder: it sets the model's lr attribute, and the app's learning rate "
        "is the optimizer's (--model.optimizer.init_args.lr): give it update_attr false (the app then says the lr it "
        "finds, and plots it), or leave it out",
    ),
    # tracebacks, a ZeroDivisionError and "alpha must not be a complex number" (an audit)
    "an lr finder of no steps": (
        [
            "--trainer.callbacks+=LearningRateFinder",
            "--trainer.callbacks.update_attr=false",
            "--trainer.callbacks.num_training_steps=0",
        ],
        "error: --trainer.callbacks LearningRateFinder num_training_steps 0: it tries one lr a step: give it steps, "
        "such as 100 (its default)",
    ),
    "an lr finder from a negative lr": (
        [
            "--trainer.callbacks+=LearningRateFinder",
            "--trainer.callbacks.update_attr=false",
            "--trainer.callbacks.min_lr=-1",
        ],
        "error: --trainer.callbacks LearningRateFinder min_lr -1, max_lr 1: it tries lrs from min_lr up to max_lr: "
        "give 0 < min_lr < max_lr",
    ),
    "a backbone to fine-tune": (
        ["--trainer.callbacks+=BackboneFinetuning"],
        "error: --trainer.callbacks BackboneFinetuning: it unfreezes the model's backbone, and the app's model has "
        "none: leave it out",
    ),
    # It trained at the batch size it found, while config.yaml and the checkpoint's settings said 64
    "Lightning's batch size finder": (
        ["--trainer.callbacks+=BatchSizeFinder"],
        "error: --trainer.callbacks BatchSizeFinder: the run would train at a batch size its config.yaml and "
        "checkpoints do not hold: leave it out, and give --data.batch_size",
    ),
    # The fit trained, then its test ended in a traceback: Lightning 2.6 cannot restore its state
    "Lightning's spike detection": (
        ["--trainer.callbacks+=SpikeDetection"],
        "error: --trainer.callbacks SpikeDetection: Lightning 2.6 cannot restore it from a checkpoint "
        "('SpikeDetection' object has no attribute 'running'), which the test after fit and any resume do: leave "
        "it out",
    ),
    # a traceback after the first epoch, a run dir without checkpoints
    "pruning channels-last weights": (
        ["--trainer.callbacks+=ModelPruning", "--trainer.callbacks.pruning_fn=l1_unstructured"],
        "error: --trainer.callbacks ModelPruning flattens weights with view(), which channels-last weights refuse: "
        "add --model.channels_last false",
    ),
    # A link to the best checkpoint: the latest epoch was in none, and a resume trained it again
    "last.ckpt as a link": (
        ["--checkpoint.save_last=link"],
        "error: --checkpoint.save_last link: the app writes last.ckpt after every epoch, which a link to the "
        "best one is not: give true, or false",
    ),
    # Lightning's save on any exception, under the run's own names: a diverged fit's NaN weights went over
    # best.ckpt and last.ckpt (a review), and a Ctrl-C in a step saved one a resume cannot go on from
    "a save on every exception": (
        ["--checkpoint.save_on_exception=true"],
        "error: --checkpoint.save_on_exception true: Lightning saves on any exception under the run's own names (a "
        "diverged fit's weights went over best.ckpt and last.ckpt): leave it out (a stop by Ctrl-C or SIGTERM is "
        "checkpointed where a resume goes on)",
    ),
    "an augmentation that cannot be built": (
        ["--data.augment=torch.nn.Dropout", "--data.augment.p=2"],
        "error: --data.augment torch.nn.Dropout: cannot be built: dropout probability has to be between 0 and 1",
    ),
    # Built, it failed on the first batch, in a traceback; a resize was blamed on the model (a review)
    "an augmentation that fails on images": (
        ["--data.augment=torchvision.transforms.v2.RandomCrop", "--data.augment.size=40"],
        "error: --data.augment RandomCrop: fails on a batch of 28x28 images (Required crop size (40, 40) is larger "
        "than input image size (28, 28)): fix its settings, or leave it out",
    ),
    "an augmentation that resizes images": (
        ["--data.augment=torchvision.transforms.v2.RandomResizedCrop", "--data.augment.size=20"],
        "error: --data.augment RandomResizedCrop: turns a batch of (N, 1, 28, 28) torch.float32 into (N, 1, 20, 20) "
        "torch.float32: give one that keeps its shape and floats, or leave it out",
    ),
    # failed in its first step (fewer), or trained and wrote a CSV of the wrong width (more)
    "a network of other than 10 classes": (
        ["--model.net.init_args.num_classes=5"],
        "error: --model.net LeNet: gives 5 class scores for an image, the datasets have 10 classes: "
        "give --model.net.init_args.num_classes 10",
    ),
    # a traceback in the first step: torch checks these as the schedule is built
    "a schedule's bad setting": (
        [
            "--model.scheduler=torch.optim.lr_scheduler.OneCycleLR",
            "--model.scheduler.max_lr=.01",
            "--model.scheduler.pct_start=2",
        ],
        "error: --model.scheduler: Expected float between 0 and 1 pct_start, but got 2.0: give a valid value",
    ),
    # torch saves a LambdaLR's functions by their __dict__: an AttributeError traceback at the first
    # checkpoint, an epoch in, and a run dir without checkpoints
    "a schedule's function torch cannot save": (
        ["--model.scheduler=torch.optim.lr_scheduler.LambdaLR", "--model.scheduler.lr_lambda=math.exp"],
        "error: --model.scheduler LambdaLR: cannot be saved in a checkpoint ('builtin_function_or_method' object has "
        "no attribute '__dict__'): give its lr_lambda as a function written in Python, not a built-in such as math.exp",
    ),
    "a fit without an end": (  # Lightning trained 1000 epochs, its warning lost among its start-up lines
        ["--trainer.max_epochs=null"],
        "error: fit: no --trainer.max_epochs, max_steps or max_time: Lightning would train 1000 epochs: "
        "give --trainer.max_epochs N (configs/lenet.yaml trains 10; -1: no limit)",
    ),
    "one-cycle without an end": (  # fails in configure_optimizers, once the run dir is made: given back
        [
            "--model.scheduler=torch.optim.lr_scheduler.OneCycleLR",
            "--model.scheduler.max_lr=.01",
            "--trainer.max_epochs=-1",
        ],
        "the run has no end: give --trainer.max_epochs or --trainer.max_steps",
    ),
}


@pytest.mark.parametrize("case", [pytest.param(c, marks=pytest.mark.slow) if c == "lr zero" else c for c in OUR_CASES])
def test_config_mistakes_we_report(run: Run, case: str) -> None:
    args, expected = OUR_CASES[case]
    before = run.snapshot()
    assert_one_line_error(run.fit(*args), 1, expected)
    assert run.snapshot() == before  # no new run dir either: it failed before writing anything


@pytest.mark.parametrize(("where", "option"), [("save_dir", "save_dir"), ("save_dir/..", "save_dir"), ("", "name")])
def test_a_log_dir_that_is_a_file_names_the_option_to_change(tmp_path: Path, where: str, option: str) -> None:
    """The line said "cannot create it (File exists): make it writable or choose another with ...save_dir", of
    a name that was a file in the save_dir (an audit)."""
    (tmp_path / "runs").mkdir()
    file = tmp_path / "runs" / "afile"
    file.write_text("kept")
    save_dir = {"save_dir": file / "logs", "save_dir/..": file, "": tmp_path / "runs"}[where]
    args = [DATA, f"--trainer.logger.init_args.save_dir={save_dir}", "--trainer.logger.init_args.name=afile"]
    result = run_main("fit", f"--config={REPO / 'configs' / 'minimal.yaml'}", *QUICK_FIT, *args, cwd=tmp_path)
    assert_one_line_error(
        result, 1, f": {file} is a file, not a folder: give another --trainer.logger.init_args.{option}"
    )
    assert file.read_text() == "kept" and sorted(tmp_path.rglob("*")) == [tmp_path / "runs", file]


def test_an_option_before_a_config_that_sets_it_is_said_without_a_fit(tmp_path: Path) -> None:
    """The parser applies its words in order: the file's value won, silently. Only a slow test checked the line
    (a mutation audit turned the check off unseen)."""
    config = tmp_path / "c.yaml"
    config.write_text("trainer: {max_epochs: 2}\n")
    assert set_again_by_a_config(["--trainer.max_epochs=5", "--config", str(config)], "fit") == (
        f"--trainer.max_epochs 5 is given before --config {config}, which sets trainer.max_epochs: 2 and wins: "
        "give --trainer.max_epochs after --config"
    )
    assert set_again_by_a_config(["--config", str(config), "--trainer.max_epochs=5"], "fit") is None
    assert set_again_by_a_config(["--trainer.max_epochs=2", "--config", str(config)], "fit") is None  # the same


@pytest.mark.slow  # an edge of the default suite's checks: its time (the suite neared 5 minutes)
def test_checkpoints_named_into_another_runs_folder_are_refused(run: Run) -> None:
    """Lightning joins a filename to its dirpath: ../../version_0/checkpoints/best wrote over another run's
    best.ckpt, exit status 0; a ModelCheckpoint of one's own wrote best-v1.ckpt among another run's, or named a
    metric into a folder of its name (audits)."""
    before = run.snapshot()
    own = ["--trainer.callbacks+=ModelCheckpoint", "--trainer.callbacks.monitor=val/loss"]
    for args, expected in (
        (
            ["--checkpoint.filename=../../version_0/checkpoints/best"],
            "error: --checkpoint.filename ../../version_0/checkpoints/best: a file's name, not a path (it went into "
            "another folder, over the checkpoints there): give the folder as --checkpoint.dirpath",
        ),
        (
            [*own, "--trainer.callbacks.filename=../shared/best"],
            "error: --trainer.callbacks ModelCheckpoint filename ../shared/best: a file's name, not a path (it went "
            "into another folder, over the checkpoints there): give the folder as its dirpath",
        ),
        # Lightning writes the metric's name in: epoch=0-val/loss=0.31.ckpt, in a folder epoch=0-val (an audit).
        (
            [*own, "--trainer.callbacks.filename={epoch}-{val/loss:.2f}"],
            "error: --trainer.callbacks ModelCheckpoint filename {epoch}-{val/loss:.2f}: Lightning writes the "
            "metric's name val/loss into the file's, a folder: give it auto_insert_metric_name false and name it "
            "yourself, such as epoch={epoch}-val_loss={val/loss:.2f}",
        ),
        (
            [*own, f"--trainer.callbacks.dirpath={run.best.parent}"],
            f"error: --trainer.callbacks ModelCheckpoint dirpath {run.best.parent} holds an earlier run's "
            "checkpoints, and this run would write beside them: give it an empty or new folder",
        ),
        # A fit from a best.ckpt is a new run too: Lightning deleted the other run's checkpoint there (a review).
        (
            [
                *own,
                f"--trainer.callbacks.dirpath={run.best.parent}",
                f"--ckpt_path={run.best}",
                "--trainer.max_epochs=2",
            ],
            f"error: --trainer.callbacks ModelCheckpoint dirpath {run.best.parent} holds an earlier run's "
            "checkpoints, and this run would write beside them: give it an empty or new folder",
        ),
    ):
        assert_one_line_error(run.fit(*args), 1, expected)
        assert run.snapshot() == before


def test_a_file_without_its_option_is_named_with_it(run: Run, tmp_path: Path) -> None:
    """predict's images and export's checkpoint, given without their options: "unrecognized arguments" alone."""
    (tmp_path / "digits").mkdir()
    result = run_main("predict", DATA, f"--ckpt_path={run.best}", "digits", cwd=tmp_path)  # no glob of checkpoints
    assert_one_line_error(result, 2, "error: unrecognized arguments: digits: give it as --data.predict_path digits")
    result = run_main("export", str(run.best), cwd=tmp_path)
    assert_one_line_error(result, 2, f"error: unrecognized arguments: {run.best}: give it as --ckpt_path {run.best}")
    assert [path.name for path in tmp_path.iterdir()] == ["digits"]


def test_a_subcommand_alone_is_parsed(tmp_path: Path) -> None:
    """With no word after the subcommand, the check of --trainer's values ended every one of them in a
    traceback ("zip() argument 2 is longer than argument 1")."""
    result = run_main("fit", cwd=tmp_path)
    assert_one_line_error(result, 1, "error: fit: no --trainer.max_epochs, max_steps or max_time")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "callbacks",
    [
        # It finds and plots the lr, and sets no attribute the model lacks.
        [
            "--trainer.callbacks+=LearningRateFinder",
            "--trainer.callbacks.update_attr=false",
            "--trainer.callbacks.num_training_steps=3",
        ],
        # A last.ckpt of its own: the run's own writes none, or this one writes in a folder of its own.
        ["--checkpoint.save_last=false", "--trainer.callbacks+=ModelCheckpoint", "--trainer.callbacks.save_last=true"],
        ["--trainer.callbacks+=ModelCheckpoint", "--trainer.callbacks.save_last=true", "--trainer.callbacks.dirpath=x"],
    ],
    ids=["lr finder that only finds", "the only last.ckpt", "a last.ckpt in a folder of its own"],
)
def test_callbacks_refused_in_other_settings_run(callbacks: list[str], tmp_path: Path) -> None:
    common = [f"--config={REPO / 'configs' / 'lenet.yaml'}", DATA, f"--trainer.logger.init_args.save_dir={tmp_path}"]
    quick = ["--trainer.max_steps=3", "--trainer.limit_val_batches=1", "--test_after_fit=false"]
    result = run_main("fit", *common, *quick, "--trainer.enable_progress_bar=false", *callbacks, cwd=tmp_path)
    assert result.returncode == 0 and "Run saved in" in result.stdout, result.stderr[-3000:]
    # One last.ckpt per folder, no last-v1.ckpt beside another's.
    lasts = sorted(str(path.relative_to(tmp_path)) for path in tmp_path.rglob("last*.ckpt"))
    own = ["x/last.ckpt"] if "--trainer.callbacks.dirpath=x" in callbacks else []
    assert lasts == sorted(["lenet/version_0/checkpoints/last.ckpt", *own])


def test_a_class_whose_package_is_missing_says_to_install_it(run: Run) -> None:
    # Its fix is to install the package, not "fix its settings, or leave it out".
    last = assert_one_line_error(run.fit("--trainer.logger=lightning.pytorch.loggers.WandbLogger"), 1)
    assert last == (
        "error: --trainer.logger lightning.pytorch.loggers.WandbLogger: cannot be built: Requirement "
        "'wandb>=0.12.10' not met. HINT: Try running `pip install -U 'wandb>=0.12.10'`"
    )


def test_a_fit_with_nothing_left_to_train_is_refused(run: Run, tmp_path: Path) -> None:
    # Lightning trained nothing, tested again and added a resume's files to the run, exit status 0.
    before = run.snapshot()
    result = run.fit(f"--ckpt_path={run.best}", "--trainer.max_epochs=1")
    assert_one_line_error(
        result, 1, f"--trainer.max_epochs 1: {run.best} has trained 1 epoch(s) already, so this fit would train nothing"
    )
    assert run.snapshot() == before
    # Nor any time left: a run stopped by --trainer.max_time, whose Timer the checkpoint holds (an audit).
    timed = torch.load(run.best, weights_only=True)
    timed["callbacks"]["Timer"] = {"time_elapsed": {"train": 75.4, "sanity_check": 0, "validate": 3.1}}
    torch.save(timed, tmp_path / "timed.ckpt")
    result = run.fit(
        f"--ckpt_path={tmp_path / 'timed.ckpt'}", "--trainer.max_epochs=3", "--trainer.max_time=00:00:01:00"
    )
    assert_one_line_error(
        result,
        1,
        f"--trainer.max_time 00:00:01:00: {tmp_path / 'timed.ckpt'} has trained for 75.4 s already, so this fit would "
        "train nothing: give a longer --trainer.max_time (it counts the whole run's training)",
    )
    assert run.snapshot() == before
    # A max_time of another form than a duration is said in the app's words, not Lightning's Timer's.
    result = run.fit(f"--ckpt_path={tmp_path / 'timed.ckpt'}", "--trainer.max_epochs=3", "--trainer.max_time=1h")
    assert_one_line_error(result, 1, "--trainer.max_time 1h: a duration DD:HH:MM:SS: give 00:01:00:00 for an hour")
    # So in an evaluation (a review: it was checked in a fit alone).
    result = run_main("validate", f"--ckpt_path={run.best}", DATA, "--trainer.max_time=1h", cwd=tmp_path)
    assert_one_line_error(result, 1, "--trainer.max_time 1h: a duration DD:HH:MM:SS: give 00:01:00:00 for an hour")


def test_a_fit_from_a_weights_only_checkpoint_is_refused(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    # Lightning's KeyError as the fit started, 16 frames (an audit). Such a file, as --checkpoint.save_weights_only
    # writes it: Lightning leaves out the optimizers', schedules' and callbacks' states.
    weights = {k: v for k, v in torch.load(run.best, weights_only=True).items() if k not in LEFT_OUT_OF_WEIGHTS_ONLY}
    torch.save(weights, tmp_path / "weights.ckpt")
    refused = run.refused_fit(monkeypatch, capsys, f"--ckpt_path={tmp_path / 'weights.ckpt'}", "--trainer.max_epochs=2")
    assert refused == (
        f"error: --ckpt_path {tmp_path / 'weights.ckpt'}: a checkpoint of the weights alone (save_weights_only), "
        "without the optimizer state a fit resumes: give a whole one (a run's last.ckpt), or test, predict or "
        "export this one"
    )


def test_a_fit_from_a_checkpoint_without_its_progress_is_refused(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """A checkpoint edited by hand, its global_step or loops left out: a KeyError traceback as the fit started,
    and an empty run dir left (a review)."""
    whole = torch.load(run.best, weights_only=True)
    for key in ("global_step", "loops"):
        torch.save({k: v for k, v in whole.items() if k != key}, edited := tmp_path / f"no_{key}.ckpt")
        refused = run.refused_fit(monkeypatch, capsys, f"--ckpt_path={edited}", "--trainer.max_epochs=2")
        assert refused == (
            f"error: --ckpt_path {edited}: no training progress in it (its loops and global_step, left out: edited?), "
            "which a fit goes on from: give a whole one (a run's last.ckpt), or test, predict or export this one"
        )


def test_the_cli_class_with_a_dict_of_settings_is_refused_in_words() -> None:
    # LightningCLI's dict form: its "config" was dropped without a word, and the run trained the defaults (an audit).
    with pytest.raises(UserError, match=r"^MNISTCLI\(args=dict\): give the words of a command line, MNISTCLI\("):
        MNISTCLI(args={"fit": {"config": ["configs/minimal.yaml"]}})


def test_the_cli_class_without_a_subcommand_is_refused_in_words() -> None:
    # LightningCLI's run=False parses without subcommands, and the app's checks, run dirs and --test_after_fit
    # are a subcommand's: a jsonargparse traceback (NSKeyError) or "Option 'test_after_fit' is not accepted".
    with pytest.raises(UserError, match=r"^MNISTCLI\(run=False\): not supported: give the subcommand, MNISTCLI\(args="):
        MNISTCLI(args=["--model.net=mnist_pl.nets.LeNet"], run=False)


@pytest.mark.parametrize("start", ["new", "from its best", "from its last, named other", "from its last, version 7"])
def test_a_checkpoint_folder_of_another_run_is_refused(run: Run, start: str) -> None:
    # Lightning wrote best-v1.ckpt and last-v1.ckpt beside that run's own; a fit from that run's
    # best.ckpt was let through, as if it resumed there. From its last.ckpt as a new run (another logger name
    # or version: an audit), Lightning took that run's best.ckpt and last.ckpt for its own, and wrote over them.
    before = run.snapshot()
    checkpoints = run.dir / "checkpoints"
    fork = [f"--ckpt_path={run.best}", "--trainer.max_epochs=2"] if start != "new" else []
    if start.startswith("from its last"):
        new_run = "--trainer.logger.init_args." + ("name=other" if "other" in start else "version=7")
        fork = [f"--ckpt_path={checkpoints / 'last.ckpt'}", "--trainer.max_epochs=2", new_run]
    result = run.fit(f"--checkpoint.dirpath={checkpoints}", *fork)
    assert_one_line_error(result, 1, f"--checkpoint.dirpath {checkpoints} holds an earlier run's checkpoints")
    assert run.snapshot() == before


def test_another_runs_dir_as_checkpoint_folder_is_refused(run: Run) -> None:
    # It holds no checkpoint at its top: best.ckpt and last.ckpt were written beside its config.yaml.
    before = run.snapshot()
    result = run.fit(f"--checkpoint.dirpath={run.dir}")
    assert_one_line_error(
        result, 1, f"--checkpoint.dirpath {run.dir} holds files, and this run would write beside them"
    )
    assert run.snapshot() == before


@pytest.mark.parametrize("subcommand, stage", [("validate", "val"), ("test", "test"), ("predict", "predict")])
def test_evaluating_no_batch_is_refused(run: Run, subcommand: str, stage: str) -> None:
    # Lightning ran nothing, printed nothing and exited 0, leaving an empty run dir.
    before = run.snapshot()
    args = [f"--ckpt_path={run.best}", DATA, run.logs_arg, f"--trainer.limit_{stage}_batches=0"]
    result = run_main(subcommand, *args, cwd=run.root)
    assert_one_line_error(result, 1, f"error: --trainer.limit_{stage}_batches 0: {subcommand} would run no batch")
    assert run.snapshot() == before


REFUSED_AS_THE_FIT_STARTS = {
    # It trained, then wrote a results.json of the checkpoint's path alone, which the README says holds test/acc.
    "a closing test of no batch": (
        ["--trainer.limit_test_batches=0"],
        "error: --trainer.limit_test_batches 0: the test that ends the fit would run no batch: give a number of "
        "batches, or --test_after_fit false",
    ),
    # Lightning stops at max_epochs (or max_steps) without a word about min_steps (min_epochs): 60 steps trained
    # for --trainer.min_steps 100, exit status 0 (an audit). Each against its own max is refused as parsed.
    "min_steps past max_epochs": (
        ["--trainer.min_steps=100"],
        "error: --trainer.min_steps 100: the fit ends after 60 steps (1 epoch(s) of 60): give "
        "--trainer.max_epochs 2 or more",
    ),
    "min_epochs past max_steps": (
        ["--trainer.max_epochs=3", "--trainer.max_steps=90", "--trainer.min_epochs=2"],
        "error: --trainer.min_epochs 2: --trainer.max_steps 90 ends the fit in epoch 2 (60 steps each): give "
        "--trainer.max_steps 120 or more",
    ),
    # EarlyStopping looked for val/acc at the end of the cut epoch, before any validation: a RuntimeError traceback
    "an early stop on a validation past max_steps": (
        ["--trainer.max_steps=20", "--trainer.callbacks+=EarlyStopping", "--trainer.callbacks.monitor=val/acc"],
        "error: --trainer.callbacks EarlyStopping monitor val/acc: --trainer.max_steps 20 ends the fit before its "
        "first validation (after 60 steps): give --trainer.max_steps 60 or more, or monitor a train/ metric",
    ),
    # Checked at the first epoch's end, as asked, before the first validation: the same traceback (an audit)
    "an early stop each epoch on validations every other epoch": (
        [
            "--trainer.callbacks+=EarlyStopping",
            "--trainer.callbacks.monitor=val/acc",
            "--trainer.callbacks.mode=max",
            "--trainer.callbacks.check_on_train_epoch_end=true",
            "--trainer.check_val_every_n_epoch=2",
            "--trainer.max_epochs=3",
        ],
        "error: --trainer.callbacks EarlyStopping monitor val/acc: it checks at each training epoch's end, and the "
        "first validation comes after 120 steps, in epoch 2 (60 steps each): give "
        "--trainer.callbacks.check_on_train_epoch_end false",
    ),
    "an early stop each epoch on validations counted across epochs": (
        [
            "--trainer.callbacks+=EarlyStopping",
            "--trainer.callbacks.monitor=val/acc",
            "--trainer.callbacks.mode=max",
            "--trainer.callbacks.check_on_train_epoch_end=true",
            "--trainer.check_val_every_n_epoch=null",
            "--trainer.val_check_interval=90",
            "--trainer.max_epochs=2",
        ],
        "error: --trainer.callbacks EarlyStopping monitor val/acc: it checks at each training epoch's end, and the "
        "first validation comes after 90 steps, in epoch 2 (60 steps each): give "
        "--trainer.callbacks.check_on_train_epoch_end false",
    ),
    "an early stop on a validation past max_steps, gradients accumulated": (
        [
            "--trainer.max_steps=29",
            "--trainer.accumulate_grad_batches=2",
            "--trainer.callbacks+=EarlyStopping",
            "--trainer.callbacks.monitor=val/loss",
        ],
        "error: --trainer.callbacks EarlyStopping monitor val/loss: --trainer.max_steps 29 ends the fit before its "
        "first validation (after 30 steps): give --trainer.max_steps 30 or more, or monitor a train/ metric",
    ),
}


@pytest.mark.parametrize("case", REFUSED_AS_THE_FIT_STARTS)
def test_settings_a_fit_cannot_keep_are_refused(
    run: Run, case: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    args, expected = REFUSED_AS_THE_FIT_STARTS[case]
    assert run.refused_fit(monkeypatch, capsys, run.logs_arg, *QUICK_FIT, *args) == expected


@pytest.mark.parametrize(
    ("minimum", "refused"),
    [
        (["--trainer.limit_train_batches=3", "--trainer.min_steps=3"], None),  # the 3 steps of max_epochs 1
        (
            [
                "--trainer.limit_train_batches=3",
                "--trainer.max_epochs=2",
                "--trainer.max_steps=6",
                "--trainer.min_epochs=2",
            ],
            None,
        ),
        (["--trainer.limit_train_batches=2", "--trainer.max_epochs=2", "--trainer.min_epochs=2"], None),  # no max_steps
        # Typed, Lightning's own 1 with a min_steps is not: refused (the fit trained 2 of 3 steps)
        (
            ["--trainer.limit_train_batches=3", "--trainer.max_steps=2", "--trainer.min_epochs=1"],
            "error: --trainer.min_epochs 1: --trainer.max_steps 2 ends the fit in epoch 1 (3 steps each): give "
            "--trainer.max_steps 3 or more",
        ),
    ],
    ids=["min_steps at the end", "min_epochs x steps = max_steps", "min_epochs without max_steps", "min_epochs 1"],
)
def test_a_minimum_the_fit_reaches_exactly_is_taken_one_past_it_refused(
    minimum: list[str], refused: str | None, tmp_path: Path
) -> None:
    """A mutation audit: each edge of refuse_a_minimum_past_the_end moved by one was refused, unseen."""
    config = f"--config={REPO / 'configs' / 'minimal.yaml'}"
    logs = f"--trainer.logger.init_args.save_dir={tmp_path}"
    short = ["--trainer.limit_val_batches=1", "--test_after_fit=false"]
    result = run_main("fit", config, DATA, logs, *QUICK_FIT, *short, *minimum, cwd=tmp_path)
    if refused is None:
        assert result.returncode == 0, result.stderr[-3000:]
    else:
        assert_one_line_error(result, 1, refused)


@pytest.mark.parametrize(
    "reaching",
    [
        ["--trainer.max_steps=3"],
        ["--trainer.max_steps=2", "--trainer.val_check_interval=2"],
        ["--trainer.max_steps=2", "--trainer.callbacks.check_on_train_epoch_end=false"],
    ],
    ids=["max_steps at the first validation", "a validation within max_steps", "checked after validations only"],
)
def test_an_early_stop_on_a_validation_the_fit_reaches_is_taken(reaching: list[str], tmp_path: Path) -> None:
    """The edges of the refusal above: the fit ends at its first validation, validates before max_steps, or
    its EarlyStopping checks only after a validation (none here: Lightning takes it without a word)."""
    config = f"--config={REPO / 'configs' / 'minimal.yaml'}"
    logs = f"--trainer.logger.init_args.save_dir={tmp_path}"
    stopping = [
        "--trainer.callbacks+=EarlyStopping",
        "--trainer.callbacks.monitor=val/acc",
        "--trainer.callbacks.mode=max",
    ]
    short = ["--trainer.limit_train_batches=3", "--trainer.limit_val_batches=1", "--test_after_fit=false"]
    result = run_main("fit", config, DATA, logs, *QUICK_FIT, *short, *stopping, *reaching, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]


def test_fast_dev_run_takes_a_recipes_minimum(run: Run) -> None:
    # Its one step a look at the recipe: a min_epochs or min_steps there is no mistake of the user's.
    for minimum in ("--trainer.min_epochs=2", "--trainer.min_steps=5"):
        result = run.fit("--trainer.fast_dev_run=true", minimum, "--trainer.max_epochs=3")
        assert result.returncode == 0, result.stderr[-3000:]


def test_a_min_steps_within_max_steps_is_no_min_epochs_past_them(run: Run) -> None:
    """Lightning sets min_epochs 1 for a min_steps: "--trainer.min_epochs 1: --trainer.max_steps 4 ends the fit in
    epoch 1", an option never typed, refused a fit of min_steps 2 and max_steps 4 (a review)."""
    result = run.fit("--trainer.max_steps=4", "--trainer.min_steps=2", "--test_after_fit=false")
    assert result.returncode == 0, result.stderr[-3000:]


def test_a_chosen_version_of_a_folder_of_checkpoints_alone_is_refused(tmp_path: Path) -> None:
    """A run's folder whose config is gone (removed by hand, or in a sub_dir) still holds its checkpoints: the fit
    wrote beside them, and over a name they shared (a mutation audit)."""
    checkpoints = tmp_path / "lenet" / "version_7" / "checkpoints"
    checkpoints.mkdir(parents=True)
    (checkpoints / "best.ckpt").write_bytes(b"an earlier run's")
    before = digest(tmp_path)
    logs, version = f"--trainer.logger.init_args.save_dir={tmp_path}", "--trainer.logger.init_args.version=7"
    result = run_main(
        "fit", f"--config={REPO / 'configs' / 'lenet.yaml'}", DATA, logs, version, *QUICK_FIT, cwd=tmp_path
    )
    assert_one_line_error(result, 1, f"{checkpoints} holds an earlier run's checkpoints")
    assert digest(tmp_path) == before


@pytest.mark.slow  # an edge of the chosen-version checks: the default suite's time
def test_a_chosen_version_with_another_sub_dir_is_refused(run: Run, tmp_path: Path) -> None:
    # The config of each went into its sub_dir, the checkpoints of both into version_7/checkpoints.
    logs = f"--trainer.logger.init_args.save_dir={tmp_path}"
    version = "--trainer.logger.init_args.version=7"
    assert run.fit(logs, version, "--trainer.logger.init_args.sub_dir=a").returncode == 0
    before = digest(tmp_path)
    result = run.fit(logs, version, "--trainer.logger.init_args.sub_dir=b")
    assert_one_line_error(result, 1, f"{tmp_path / 'lenet' / 'version_7' / 'checkpoints'} holds an earlier run's")
    assert digest(tmp_path) == before


@pytest.mark.parametrize("case", ["a run's version", "a run's version (test)", "a sub_dir of it"])
def test_a_run_dir_that_holds_a_run_is_refused(run: Run, case: str, tmp_path: Path) -> None:
    # The shared run is logs/lenet/version_0.
    args = ["--trainer.logger.init_args.version=0"]
    args += ["--trainer.logger.init_args.sub_dir=x"] if case == "a sub_dir of it" else []  # its checkpoints went in
    before = run.snapshot()
    if case in ("a run's version", "a sub_dir of it"):
        result = run.fit(*args)
    else:  # of a checkpoint from elsewhere: a run's own checkpoint is evaluated in its run (test_0)
        shutil.copy(run.best, tmp_path / "best.ckpt")
        test = ["test", f"--ckpt_path={tmp_path / 'best.ckpt'}", DATA, run.logs_arg]
        test += ["--trainer.logger.init_args.name=lenet"]
        result = run_main(*test, *args, cwd=run.root)
    assert_one_line_error(
        result, 1, f"{run.dir / 'config.yaml'} exists", "leave out --trainer.logger.init_args.version"
    )
    assert run.snapshot() == before  # not even an event file of the refused run's logger


@pytest.mark.parametrize("sub_dir", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_a_chosen_version_inside_a_run_is_refused(run: Run, tmp_path: Path, sub_dir: bool) -> None:
    # The new run's config, curves and checkpoints went into version_0/checkpoints, among the run's own.
    # A run of a TensorBoard sub_dir keeps its config below its dir, in version_0/tb.
    logs, inside = run.logs, run.dir
    if sub_dir:
        logs, inside = tmp_path / "logs", tmp_path / "logs" / "lenet" / "version_0"
        shutil.copytree(run.dir, inside)
        (inside / "tb").mkdir()
        (inside / "config.yaml").rename(inside / "tb" / "config.yaml")
    before = digest(logs)
    result = run.fit(
        f"--trainer.logger.init_args.save_dir={logs}", "--trainer.logger.init_args.version=version_0/checkpoints"
    )
    assert_one_line_error(
        result, 1, f"error: --trainer.logger.init_args.version version_0/checkpoints: inside the run {inside}: give"
    )
    assert digest(logs) == before


def test_a_logger_name_inside_a_run_is_refused(run: Run) -> None:
    """--trainer.logger.init_args.name lenet/version_0/checkpoints (an audit): the new run went into
    version_0/checkpoints/version_0, among the run's checkpoints."""
    before = run.snapshot()
    result = run.fit("--trainer.logger.init_args.name=lenet/version_0/checkpoints")
    assert_one_line_error(
        result,
        1,
        f"error: --trainer.logger.init_args.name lenet/version_0/checkpoints: inside the run {run.dir}: give a "
        "name of its own, such as mine",
    )
    assert run.snapshot() == before


def test_a_read_only_named_run_evaluated_with_its_own_config_is_logged_in_a_new_run(run: Run, tmp_path: Path) -> None:
    # Its test_0 could not be made, and the evaluation wrote into the read-only run itself: a traceback.
    named = tmp_path / "logs" / "lenet" / "adamw"
    shutil.copytree(run.dir, named)
    config = named / "config.yaml"
    config.write_text(re.sub(r"save_dir: .*", f"save_dir: {tmp_path / 'logs'}", config.read_text(), count=1))
    config.write_text(re.sub(r"(\n +)version: null\n", r"\1version: adamw\n", config.read_text(), count=1))
    assert "version: adamw" in config.read_text()
    with read_only(named):
        result = run_main(
            "test", f"--config={config}", "--trainer.limit_test_batches=1", "--ckpt_path=best", cwd=tmp_path
        )
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "logs" / "lenet" / "version_0" / "results.json").is_file(), result.stdout[-1000:]


@pytest.mark.slow  # an edge of the default suite's checks: its time (a slower host took 302 s)
def test_evaluating_without_a_logger_writes_no_config(run: Run, tmp_path: Path) -> None:
    # Lightning wrote it into the current folder (default_root_dir), and refused the next test there.
    no_logger = ["--trainer.logger=false", f"--trainer.default_root_dir={tmp_path}", "--trainer.limit_test_batches=1"]
    for _ in range(2):
        result = run_main("test", f"--ckpt_path={run.best}", DATA, *no_logger, cwd=tmp_path)
        assert result.returncode == 0, result.stderr[-2000:]
    missing = f"--data.predict_path={tmp_path / 'nope.png'}"
    result = run_main("predict", f"--ckpt_path={run.best}", DATA, *no_logger, missing, cwd=tmp_path)
    assert_one_line_error(result, 1, "no such file, folder or matching files")
    assert list(tmp_path.iterdir()) == []
    # Without a run folder of its own, predict's CSV goes where it runs.
    one = "--trainer.limit_predict_batches=1"
    result = run_main("predict", f"--ckpt_path={run.best}", DATA, *no_logger, one, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "written to predictions.csv\n" in result.stdout
    assert [p.name for p in tmp_path.iterdir()] == ["predictions.csv"]


# --- checkpoints ------------------------------------------------------------------------------


class RunsCode:
    """Unpickling this makes a folder: proof that loading a checkpoint ran code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.mkdir, (str(self.marker),))


@pytest.mark.parametrize(
    "case",
    [
        "missing",
        "truncated",
        pytest.param("garbage", marks=pytest.mark.slow),
        "runs code",
        "other network",
        "older network",
        "a network class gone",
        "a network built in Python",
        "a network of one's own not importable",
        "another LightningModule's",
        "another LightningModule's without settings",
        "last",
        "best",
        "best without a logger",
        "registry",
        "a folder",
        "empty",
        "edited dataset",
        # the same check: tests/test_data.py's test of trained_settings, in this process
        pytest.param("edited std", marks=pytest.mark.slow),
        pytest.param("edited hyperparameters", marks=pytest.mark.slow),
    ],
)
def test_bad_checkpoints(run: Run, tmp_path: Path, case: str) -> None:
    ckpt = tmp_path / "bad.ckpt"
    marker = tmp_path / "code-ran"
    extra: list[str] = []
    if case == "truncated":
        ckpt.write_bytes(run.best.read_bytes()[:2000])
    elif case == "garbage":
        ckpt.write_bytes(b"not a checkpoint\n" * 300)
    elif case == "runs code":
        torch.save({"state_dict": {}, "hyper_parameters": {"x": RunsCode(marker)}}, ckpt)
    elif case == "other network":
        # Weights of LeNet with its hyperparameters dropped, given to a FastCNN.
        checkpoint = torch.load(run.best, weights_only=True)
        del checkpoint["hyper_parameters"]
        torch.save(checkpoint, ckpt)
        extra = ["--model.net=mnist_pl.nets.FastCNN"]
    elif case == "a network built in Python":  # "leave out --config/--model.net", neither given, was the advice
        checkpoint = torch.load(run.best, weights_only=True)
        del checkpoint["hyper_parameters"]
        checkpoint["state_dict"] = {f"net.{k}": v for k, v in MinimalCNN().state_dict().items()}
        torch.save(checkpoint, ckpt)
    elif case == "older network":  # its own network's class, of a version whose layers had other names
        checkpoint = torch.load(run.best, weights_only=True)
        weights = checkpoint["state_dict"]
        weights["net.renamed.weight"] = weights.pop(next(k for k in weights if k.startswith("net.")))
        torch.save(checkpoint, ckpt)
    elif case == "a network class gone":  # of a version with a class this one lacks: its usage and 2 lines
        checkpoint = torch.load(run.best, weights_only=True)
        checkpoint["hyper_parameters"]["net"] = {"class_path": "mnist_pl.nets.Gone", "init_args": {}}
        torch.save(checkpoint, ckpt)
    elif case == "a network of one's own not importable":  # "train it again with this version" was the advice
        checkpoint = torch.load(run.best, weights_only=True)
        checkpoint["hyper_parameters"]["net"] = {"class_path": "my_nets_x.Net", "init_args": {}}
        torch.save(checkpoint, ckpt)
    elif case.startswith("another LightningModule's"):  # its fixes: "train it again", "give --model.net" (an audit)
        checkpoint = torch.load(run.best, weights_only=True)
        checkpoint["state_dict"] = {"l.weight": torch.zeros(10, 4), "l.bias": torch.zeros(10)}
        checkpoint["hyper_parameters"] = {} if case.endswith("without settings") else {"hidden_dim": 8}
        torch.save(checkpoint, ckpt)
    elif case in ("last", "best", "registry"):  # Lightning's words: this run's own (a test has none), an online one
        ckpt = case
    elif case == "best without a logger":  # no runs to take it from
        ckpt, extra = "best", ["--trainer.logger=false"]
    elif case == "a folder":  # was "no such file"
        ckpt = run.dir
    elif case == "empty":  # was Lightning's message for its Python API: ".test(ckpt_path=PATH)"
        ckpt = ""
    elif case.startswith("edited"):  # by hand, or damaged: each was a traceback
        checkpoint = torch.load(run.best, weights_only=True)
        if case == "edited hyperparameters":
            checkpoint["hyper_parameters"] = "lr: 0.1"
        else:
            checkpoint["datamodule_hyper_parameters"].update(
                {"dataset": "EMNIST"} if case == "edited dataset" else {"std": 0.0}
            )
        torch.save(checkpoint, ckpt)
    before = run.snapshot()
    result = run_main("test", f"--ckpt_path={ckpt}", DATA, run.logs_arg, *extra, cwd=run.root)
    expected = {
        "missing": "no such file",
        "truncated": "not a readable checkpoint",
        "garbage": "not a readable checkpoint",
        "runs code": "refused: it holds objects other than weights",
        "other network": f"--ckpt_path {ckpt}: the checkpoint holds other weights than FastCNN",
        "older network": f"--ckpt_path {ckpt}: the checkpoint's LeNet has other layers than this version's LeNet "
        "(2 names and 0 shapes differ): it was",
        "a network built in Python": f"--ckpt_path {ckpt}: the checkpoint holds other weights than LeNet "
        "(0 names and 7 shapes differ) and names no network (saved from a module built in Python): give its network "
        "class with --model.net",
        "a network class gone": f"--ckpt_path {ckpt}: its model settings do not fit this version of mnist_pl "
        "(model.net: Problem with given class_path 'mnist_pl.nets.Gone': module 'mnist_pl.nets' has no attribute "
        "'Gone'): train it again with this version",
        "a network of one's own not importable": f"--ckpt_path {ckpt}: its network my_nets_x.Net cannot be "
        "imported (No module named 'my_nets_x'): make its module importable (PYTHONPATH), as where it was trained",
        "another LightningModule's": f"--ckpt_path {ckpt}: a Lightning checkpoint, but not of mnist_pl's model "
        "(its weights: l.weight, l.bias): give a .ckpt file written by mnist_pl",
        "another LightningModule's without settings": f"--ckpt_path {ckpt}: a Lightning checkpoint, but not of "
        "mnist_pl's model",
        # Without --config: the runs of the app's default logger, none.
        "last": f"--ckpt_path last: no run under {run.logs / 'mnist'} has a last.ckpt: give the recipe's --config "
        "(its newest run), or a path",
        "best": f"--ckpt_path best: no run under {run.logs / 'mnist'} has a checkpoint: give the recipe's --config",
        "best without a logger": "--ckpt_path best: test needs a checkpoint file: give logs/<name>/version_N/",
        "registry": "--ckpt_path registry: Lightning's online model registry is not used here",
        "a folder": f"--ckpt_path {run.dir} is a folder: give a .ckpt file",
        "empty": '--ckpt_path "": empty: give the path of a .ckpt file',
        "edited dataset": f"--ckpt_path {ckpt}: its data setting dataset 'EMNIST' is none mnist_pl writes (the file "
        "was edited or is damaged): give a .ckpt file written by mnist_pl",
        "edited std": f"--ckpt_path {ckpt}: its data setting std 0.0 is none mnist_pl writes",
        "edited hyperparameters": f"--ckpt_path {ckpt}: its hyper_parameters are 'lr: 0.1', not a dict (the file",
    }[case]
    assert_one_line_error(result, 1, expected)
    assert not marker.exists()
    # "other network" fails inside Trainer.test, after the logger made its folder: given back.
    assert run.snapshot() == before


def test_an_empty_ckpt_path_in_a_config_names_the_file(tmp_path: Path) -> None:
    """It named the option, which nobody typed (a review)."""
    (tmp_path / "ck.yaml").write_text('ckpt_path: ""\n')
    result = run_main("test", "--config=ck.yaml", cwd=tmp_path)
    assert_one_line_error(result, 1, 'error: ck.yaml: ckpt_path "": empty: give the path of a .ckpt file')


REPLACED = {  # what LightningCLI replaced by the checkpoint's model settings without a word
    # Named where it was written: the option named was never typed.
    "another recipe's config": (
        "fit",
        "--config=fast",
        f"{REPO / 'configs' / 'fast.yaml'}: model.net mnist_pl.nets.FastCNN: the checkpoint's model",
    ),
    "another lr": ("fit", "--model.optimizer.init_args.lr=0.05", "--model.optimizer.init_args.lr 0.05: the checkpoint"),
    # Typed, equal to the default: taken as not given, and the run went on with the checkpoint's, status 0.
    "the default optimizer": ("fit", "--model.optimizer=Adam", "--model.optimizer torch.optim.Adam: the checkpoint's"),
    "SGD's default lr": ("fit", "--model.optimizer.lr=0.001", "--model.optimizer.init_args.lr 0.001: the checkpoint"),
    "another net for test": ("test", "--model.net=mnist_pl.nets.FastCNN", "--model.net mnist_pl.nets.FastCNN: the"),
}


@pytest.mark.slow  # an edge of the default suite's checks: its time (a slower host took 302 s)
def test_a_recipes_config_evaluates_any_of_its_runs(run: Run, tmp_path: Path) -> None:
    """``test --config my.yaml --ckpt_path best`` of a run trained with another lr (``--model.optimizer.lr
    0.02``): refused, since the config's lr differed, with "leave out the model settings that differ (1)",
    which nothing typed could do. An evaluation runs the checkpoint's model: only typed settings are refused."""
    config = tmp_path / "my.yaml"  # the run's recipe with another lr, as --print_config > my.yaml makes it
    config.write_text(run.config.read_text().replace("lr: 0.01", "lr: 0.02"))
    quick = [DATA, run.logs_arg, "--trainer.limit_test_batches=1", f"--ckpt_path={run.best}"]
    before = run.snapshot()
    tested = run_main("test", f"--config={config}", *quick, cwd=tmp_path)
    assert tested.returncode == 0 and "test/acc" in tested.stdout, tested.stderr[-3000:]
    shutil.rmtree(run.dir / "test_0")
    # Another optimizer class in the file: its other arguments (alpha, centered, ...) are in no file, but
    # defaults of the class the file names. They were refused, options never typed.
    other = tmp_path / "other.yaml"
    other.write_text(run.config.read_text().replace("torch.optim.SGD", "torch.optim.RMSprop"))
    tested = run_main("test", f"--config={other}", *quick, cwd=tmp_path)
    assert tested.returncode == 0 and "test/acc" in tested.stdout, tested.stderr[-3000:]
    assert "warning: --model" not in tested.stderr  # what it learned with, not what it runs
    shutil.rmtree(run.dir / "test_0")
    # Another recipe's config names another network: the checkpoint's runs, and it says so (a likely mix-up).
    tested = run_main("test", f"--config={REPO / 'configs' / 'fast.yaml'}", *quick, cwd=tmp_path)
    assert tested.returncode == 0 and "test/acc" in tested.stdout, tested.stderr[-3000:]
    assert (
        "warning: --model.net mnist_pl.nets.FastCNN (from a --config): the checkpoint's network is "
        "mnist_pl.nets.LeNet, and test runs it as it was trained\n" in tested.stderr
    )
    shutil.rmtree(run.dir / "test_0")
    assert run.snapshot() == before
    # Typed after a config that names its class, another lr is refused as without one: it was taken as the
    # file's, and the test ran without a word.
    typed = run_main("test", f"--config={run.config}", *quick, "--model.optimizer.lr=0.5", cwd=tmp_path)
    said = "--model.optimizer.init_args.lr 0.5: the checkpoint's model has 0.01"
    assert_one_line_error(typed, 1, said, "leave out the model setting that differs")
    # A fit from it goes on with the checkpoint's model too: the fix is the run's own config.
    resumed = run_main("fit", f"--config={config}", *quick, *QUICK_FIT, cwd=tmp_path)
    assert_one_line_error(
        resumed,
        1,
        f"{config}: model.optimizer.init_args.lr 0.02: the checkpoint's model has 0.01",
        f"leave out the model setting that differs (a --config sets it: give the run's own, {run.dir / 'config.yaml'})",
    )
    assert run.snapshot() == before


@pytest.mark.slow  # an edge of the default suite's checks: its time (the suite neared 5 minutes)
def test_a_recipe_of_the_default_network_says_another_runs_network_is_tested(tmp_path: Path) -> None:
    """lenet.yaml names LeNet, the app's default, taken as no network given: a test of another recipe's run
    with it ran that run's network without the warning (docs/runs.md) a recipe of another network gives (an audit)."""
    logs = f"--trainer.logger.init_args.save_dir={tmp_path}"
    short = ["--trainer.max_steps=2", "--trainer.limit_val_batches=1", "--test_after_fit=false", *QUICK_FIT[-1:]]
    recipe, decay = f"--config={REPO / 'configs' / 'minimal.yaml'}", "--model.optimizer.init_args.weight_decay=0.001"
    fitted = run_main("fit", recipe, DATA, logs, *short, decay, cwd=tmp_path)
    assert fitted.returncode == 0, fitted.stderr[-3000:]
    ckpt = tmp_path / "minimal" / "version_0" / "checkpoints" / "last.ckpt"
    quick = [DATA, logs, "--trainer.limit_test_batches=1", f"--ckpt_path={ckpt}"]
    tested = run_main("test", f"--config={REPO / 'configs' / 'lenet.yaml'}", *quick, cwd=tmp_path)
    assert tested.returncode == 0 and "test/acc" in tested.stdout, tested.stderr[-3000:]
    assert (
        "warning: --model.net mnist_pl.nets.LeNet (from a --config): the checkpoint's network is "
        "mnist_pl.nets.MinimalCNN, and test runs it as it was trained\n" in tested.stderr
    ), tested.stderr[-3000:]
    # A fit from it with the run's recipe but LeNet went on with MinimalCNN, without a word: refused as another
    # value in a file is.
    lenet = tmp_path / "lenet.yaml"
    lenet.write_text(
        (REPO / "configs" / "minimal.yaml")
        .read_text()
        .replace("MinimalCNN", "LeNet")
        .replace("init_args:\n      width: 6", "")
    )
    before = digest(tmp_path / "minimal")
    resumed = run_main("fit", f"--config={lenet}", *quick, "--trainer.max_steps=3", cwd=tmp_path)
    assert_one_line_error(
        resumed,
        1,
        f"{lenet}: model.net mnist_pl.nets.LeNet: the checkpoint's model has mnist_pl.nets.MinimalCNN",
        "leave out the model setting that differs (a --config sets it: give the run's own, "
        f"{tmp_path / 'minimal' / 'version_0' / 'config.yaml'}), or train a new run without --ckpt_path",
    )
    assert digest(tmp_path / "minimal") == before
    # Its own recipe, which leaves out the weight_decay typed: the checkpoint's, taken (it was refused; a review).
    more = ["--trainer.max_epochs=2", "--trainer.limit_train_batches=1", "--test_after_fit=false"]
    resumed = run_main("fit", recipe, *quick, *more, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "weight_decay: 0.001" in (tmp_path / "minimal" / "version_0" / "config.resume1.yaml").read_text()


def test_best_of_a_run_whose_best_ckpt_was_removed_says_so(run: Run, tmp_path: Path) -> None:
    """Its reasons were the run's (no validation, ...), where the run had validated and its file was deleted
    (an audit)."""
    copy = tmp_path / "logs" / "lenet" / "version_0"
    shutil.copytree(run.dir, copy)
    (copy / "checkpoints" / "best.ckpt").unlink()
    logs = f"--trainer.logger.init_args.save_dir={tmp_path / 'logs'}"
    result = run_main("test", f"--config={run.config}", DATA, logs, "--ckpt_path=best", cwd=tmp_path)
    assert_one_line_error(
        result,
        1,
        f"error: --ckpt_path best: {copy} has no best checkpoint (no validation, --checkpoint.save_top_k 0, "
        "stopped before its first epoch ended, or removed since): give one of its checkpoints as --ckpt_path",
    )


def test_a_runs_config_edited_since_it_ran_is_said(run: Run) -> None:
    """Its config.yaml edited (lr 0.01 to 0.05), then resumed: the fix was "give the run's own", the file
    given (an audit)."""
    own, before = run.dir / "config.yaml", run.snapshot()
    text = own.read_text()
    own.write_text(text.replace("lr: 0.01", "lr: 0.05"))
    try:
        last = f"--ckpt_path={run.dir / 'checkpoints' / 'last.ckpt'}"
        result = run_main("fit", f"--config={own}", DATA, run.logs_arg, last, "--trainer.max_epochs=2", cwd=run.root)
        assert_one_line_error(
            result,
            1,
            f"{own}: model.optimizer.init_args.lr 0.05: the checkpoint's model has 0.01, and a run from a checkpoint "
            "keeps the model it was trained with: its config.yaml was edited since the run: put back 0.01, or train "
            "a new run without --ckpt_path",
        )
    finally:
        own.write_text(text)
    assert run.snapshot() == before


@pytest.mark.parametrize("case", REPLACED)
def test_model_settings_the_checkpoint_would_replace_are_refused(run: Run, case: str) -> None:
    subcommand, arg, expected = REPLACED[case]
    before = run.snapshot()
    if subcommand == "test":
        result = run_main("test", f"--ckpt_path={run.best}", DATA, run.logs_arg, arg, cwd=run.root)
    elif arg == "--config=fast":  # a resume with another recipe than the run's
        fast = f"--config={REPO / 'configs' / 'fast.yaml'}"
        result = run_main("fit", fast, DATA, run.logs_arg, *QUICK_FIT, f"--ckpt_path={run.best}", cwd=run.root)
    else:
        result = run.fit(arg, f"--ckpt_path={run.best}")
    assert_one_line_error(result, 1, expected, "keeps the model it was trained with")
    if subcommand == "test":  # one typed, whatever the arguments of the class it names: it said "the 3 ..."
        assert "leave out the model setting that differs\n" in result.stderr
        # An argument of it typed too is one more to leave out (it said one, and that left alone was refused).
        both = run_main(
            "test", f"--ckpt_path={run.best}", DATA, run.logs_arg, arg, "--model.net.width=32", cwd=run.root
        )
        assert "leave out the 2 model settings that differ\n" in both.stderr
    assert run.snapshot() == before


def test_a_fit_from_a_checkpoint_built_in_python_takes_the_optimizer_it_holds(run: Run, tmp_path: Path) -> None:
    """Its hyperparameters name no optimizer, and Lightning loads the state it holds into the one configured:
    Adam ended in a KeyError traceback ('step'), another lr was the checkpoint's without a word while the
    run's config.yaml said the one given."""
    checkpoint = torch.load(run.best, weights_only=True)  # SGD, lr 0.01, momentum 0.9: lenet.yaml's
    del checkpoint["hyper_parameters"]["optimizer"]  # as a module built in Python saves it
    ckpt = tmp_path / "python.ckpt"
    torch.save(checkpoint, ckpt)
    before = run.snapshot()
    adam = run.fit("--model.optimizer=Adam", f"--ckpt_path={ckpt}", "--trainer.max_epochs=2")
    assert_one_line_error(
        adam,
        1,
        f"--model.optimizer torch.optim.Adam: {ckpt} holds the state of torch.optim.SGD (lr 0.01, momentum 0.9, "
        "dampening 0.0, weight_decay 0.0, nesterov false): give it, --model.optimizer SGD --model.optimizer.lr 0.01 "
        "--model.optimizer.momentum 0.9",  # it named no class ("the one it was trained with"): SGD's settings do
    )
    other = ["--model.optimizer.lr=0.05", "--model.optimizer.nesterov=true", "--trainer.max_epochs=2"]
    other_lr = run.fit(*other, f"--ckpt_path={ckpt}")
    assert_one_line_error(
        other_lr,
        1,
        f"--model.optimizer.init_args.lr 0.05: {ckpt} was trained with lr 0.01, nesterov false, and a fit from it "
        "goes on with them: give --model.optimizer.init_args.lr 0.01 --model.optimizer.init_args.nesterov false",
    )
    assert run.snapshot() == before
    fixed = adam.stderr.rsplit("give it, ", 1)[1].split()  # as the line gives them, over the Adam
    given = run.fit(
        "--model.optimizer=Adam",
        *fixed,
        f"--ckpt_path={ckpt}",
        "--trainer.max_epochs=2",
        f"--trainer.logger.init_args.save_dir={tmp_path}",
        "--test_after_fit=false",
    )
    assert given.returncode == 0, given.stderr[-2000:]


@pytest.mark.slow  # three runs of a checkpoint, options of how it runs
def test_how_the_network_runs_is_the_runs_own_with_a_checkpoint(run: Run, tmp_path: Path) -> None:
    """--model.cuda_graphs and --model.compile say how the network runs, not what it learned: this run's own,
    given (not refused as another model) or left out (not the checkpoint's), each way."""

    def fit(ckpt: Path, logs: Path, epochs: int, *args: str) -> Path:
        logger = f"--trainer.logger.init_args.save_dir={logs}"
        result = run.fit(f"--ckpt_path={ckpt}", f"--trainer.max_epochs={epochs}", logger, *args)
        assert result.returncode == 0, result.stderr[-3000:]
        new = logs / "lenet" / "version_0"
        saved = torch.load(new / "checkpoints" / "last.ckpt", weights_only=True)["hyper_parameters"]["cuda_graphs"]
        assert yaml.safe_load((new / "config.yaml").read_text())["model"]["cuda_graphs"] is saved
        return new / "checkpoints" / "last.ckpt"

    graphed = fit(run.best, tmp_path / "on", 2, "--model.cuda_graphs=true")
    assert torch.load(graphed, weights_only=True)["hyper_parameters"]["cuda_graphs"] is True
    plain = fit(graphed, tmp_path / "off", 3)  # left out: off, not the checkpoint's
    assert torch.load(plain, weights_only=True)["hyper_parameters"]["cuda_graphs"] is False
    # The checkpoint's graphs and this run's compile: compiled only, not refused as both.
    result = run_main("validate", f"--ckpt_path={graphed}", "--model.compile=true", "--print_config", cwd=run.root)
    assert result.returncode == 0, result.stderr[-3000:]
    model = yaml.safe_load(result.stdout)["model"]
    assert model["compile"] is True and model["cuda_graphs"] is False


def test_the_memory_layout_of_a_checkpoint_is_kept_unless_typed(run: Run) -> None:
    """--model.channels_last is how the weights are laid out, not what they learned: `test --ckpt_path ...
    --model.channels_last false` was refused "--model.channels_last False: the checkpoint's model has True"."""
    layouts = (([], True), (["--model.channels_last=false"], False), (["--model.channels_last=true"], True))
    for typed, expected in layouts:
        result = run_main("validate", f"--ckpt_path={run.best}", *typed, "--print_config", cwd=run.root)
        assert result.returncode == 0, result.stderr[-3000:]
        assert yaml.safe_load(result.stdout)["model"]["channels_last"] is expected, typed


def test_an_evaluations_precision_is_the_checkpoints_unless_typed(run: Run) -> None:
    """Another recipe's config ran the checkpoint's model, with the config's precision: a LeNet trained in fp32 was
    tested in fast.yaml's bf16-mixed, its test/acc not its fit's (an audit). Typed, it is this run's."""
    trained = torch.load(run.best, weights_only=True)["precision"]
    fast = f"--config={REPO / 'configs' / 'fast.yaml'}"
    for typed, expected in (([], trained), (["--trainer.precision=bf16-mixed"], "bf16-mixed")):
        result = run_main("validate", fast, f"--ckpt_path={run.best}", *typed, "--print_config", cwd=run.root)
        assert result.returncode == 0, result.stderr[-3000:]
        assert yaml.safe_load(result.stdout)["trainer"]["precision"] == expected, typed


@pytest.mark.slow  # an edge check, 4-6 s: the default suite's time
def test_a_checkpoints_normalisation_is_taken_and_another_refused(run: Run, tmp_path: Path) -> None:
    # LightningCLI takes only the model's settings from a checkpoint: a network trained with another
    # normalisation was tested with the default one, and scored less, without a word.
    logs = f"--trainer.logger.init_args.save_dir={tmp_path / 'logs'}"
    # A real fit: its checkpoints held --data.std as jsonargparse's PositiveFloat, which a weights-only
    # load refuses: its own closing test ended in a traceback, and every later use of them was refused.
    short = ["--trainer.limit_train_batches=5", "--trainer.limit_val_batches=1", "--trainer.limit_test_batches=2"]
    fit = ["fit", f"--config={run.config}", "--data.mean=0.5", "--data.std=0.05", DATA, logs, *QUICK_FIT, *short]
    result = run_main(*fit, cwd=tmp_path)
    assert result.returncode == 0 and "test/acc" in result.stdout, result.stderr[-3000:]
    other = next((tmp_path / "logs").glob("*/version_0/checkpoints/best.ckpt"))

    def test_loss(*args: str) -> float:
        result = run_main("test", *args, DATA, logs, "--trainer.limit_test_batches=2", cwd=tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
        return float(printed("test/loss", result.stdout))

    given = test_loss(f"--ckpt_path={other}", "--data.mean=0.5", "--data.std=0.05")
    assert test_loss(f"--ckpt_path={other}") == given != test_loss(f"--ckpt_path={run.best}")
    result = run_main("test", f"--ckpt_path={other}", "--data.mean=0.3", DATA, logs, cwd=tmp_path)
    assert_one_line_error(result, 1, "--data.mean 0.3: the checkpoint was trained with 0.5", "leave out --data.mean")
    # Typed, the default (the dataset's own) too: the test ran with the checkpoint's, status 0.
    result = run_main("test", f"--ckpt_path={other}", "--data.mean=null", DATA, logs, cwd=tmp_path)
    assert_one_line_error(result, 1, "--data.mean null: the checkpoint was trained with 0.5", "leave out --data.mean")


def test_a_data_setting_from_a_config_gives_way_to_the_checkpoints_in_an_evaluation(run: Run, tmp_path: Path) -> None:
    """As a model setting does: `test --config another_run/config.yaml --ckpt_path ...` was refused, "leave out
    --data.val_size", which no option had given (a review). A fit's is refused, with a fix that can be given."""
    other = tmp_path / "other.yaml"
    other.write_text("data:\n  val_size: 1000\n")
    last = run.dir / "checkpoints" / "last.ckpt"
    given = [f"--config={other}", DATA, run.logs_arg, "--print_config"]
    result = run_main("validate", *given, f"--ckpt_path={run.best}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert yaml.safe_load(result.stdout)["data"]["val_size"] == 5000
    assert "--data.val_size 1000 (from a --config): the checkpoint was trained with 5000, and validate keeps it" in (
        result.stderr
    )
    result = run_main("fit", *given, f"--ckpt_path={last}", cwd=tmp_path)
    assert result.returncode == 1 and result.stderr.splitlines()[-1] == (
        f"error: {other}: data.val_size 1000: the checkpoint was trained with 5000, and a run from a checkpoint keeps "
        "it: give --data.val_size 5000 after it, or train a new run"
    )
    result = run_main("fit", *given, "--data.val_size=5000", f"--ckpt_path={last}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]


def test_a_recipe_is_a_config_for_validate_too(run: Run, tmp_path: Path) -> None:
    logs = f"--trainer.logger.init_args.save_dir={tmp_path}"
    args = [f"--config={run.config}", f"--ckpt_path={run.best}", DATA, logs, "--trainer.limit_val_batches=2"]
    result = run_main("validate", *args, cwd=run.root)
    assert result.returncode == 0, result.stderr[-3000:]
    # The checkpoint's weights on the fit's own validation batches: the val/acc its best was scored by.
    states = torch.load(run.best, weights_only=True)["callbacks"].items()
    (score,) = [state["best_model_score"] for key, state in states if key.startswith("ModelCheckpoint")]
    assert float(printed("val/acc", result.stdout)) == pytest.approx(float(score))


@pytest.mark.slow  # the same check as test_bad_checkpoints["runs code"], reached through fit
def test_code_carrying_checkpoint_is_refused_by_fit_too(run: Run, tmp_path: Path) -> None:
    ckpt, marker = tmp_path / "evil.ckpt", tmp_path / "code-ran"
    payload = torch.load(run.best, weights_only=True)
    payload["callbacks"] = {"x": RunsCode(marker)}
    torch.save(payload, ckpt)
    before = run.snapshot()
    assert_one_line_error(run.fit(f"--ckpt_path={ckpt}"), 1, "refused")
    assert not marker.exists()
    assert run.snapshot() == before


# --- training ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reads",
    [
        "every loss (CPU)",
        "a flag (accelerator)",
        "a flag, before a validation mid-epoch",
        "a flag, at the logger's steps",
        "a flag, at an epoch's end without a validation",
    ],
)
def test_diverging_run_stops_and_keeps_the_last_good_checkpoint(
    run: Run, reads: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On a CPU every loss is read; on a GPU (where the machine has one) or as here pretended, a flag.
    device = ["--trainer.accelerator=cpu"] if reads == "every loss (CPU)" else []
    if reads.startswith("a flag"):  # read at the logger's steps (every 50: none here) and before validation
        monkeypatch.setattr(StopOnNonFiniteLoss, "_reads_freely", staticmethod(lambda loss: False))
    # A validation (and its checkpoint) after every 5 batches: the flag read before the one in epoch 1.
    mid_epoch = ["--trainer.val_check_interval=5"] if reads.endswith("mid-epoch") else []
    # Read where the logger writes (every 2 steps here): epoch 1's first steps, not its end (a mutation audit).
    mid_epoch += ["--trainer.log_every_n_steps=2"] if reads.endswith("logger's steps") else []
    # No validation: read as the epoch ends, before its last.ckpt (a mutation audit: a last.ckpt of NaN weights).
    unvalidated = reads.endswith("without a validation")
    mid_epoch += ["--trainer.limit_val_batches=0"] if unvalidated else []
    before, runs = run.snapshot(), set((run.logs / "lenet").glob("version_*"))
    # Epoch 0 trains at lr 0.01; the schedule then multiplies it by 1e6 and epoch 1 diverges.
    result = run.fit(
        *device,
        *mid_epoch,
        "--trainer.max_epochs=2",
        "--trainer.limit_train_batches=10",
        "--model.scheduler=torch.optim.lr_scheduler.StepLR",
        "--model.scheduler.init_args.step_size=1",
        "--model.scheduler.init_args.gamma=1e6",
    )
    # Only the fit's own: a fit failed before its folder would otherwise take the module's shared run with it.
    (newest,) = set((run.logs / "lenet").glob("version_*")) - runs
    try:
        # The flag is read before the epoch's validation, after Lightning stepped the epoch's schedule.
        lr = "10000" if reads != "a flag (accelerator)" and not unvalidated else "1e+10"
        # The run's folder named: it keeps the earlier checkpoints, config and curves (an audit: named nowhere).
        said = "training diverged", f"(epoch 1, lr {lr})", f"(the run so far: {newest})", "lower --model.optimizer"
        assert_one_line_error(result, 1, *said)
        if reads.endswith("logger's steps"):
            assert int(re.search(r"not finite by step (\d+)", result.stderr).group(1)) < 20  # before epoch 1's end
        after = run.snapshot()
        assert {k: v for k, v in after.items() if k in before} == before
        checkpoints = newest / "checkpoints"
        kept = {"last.ckpt"} if unvalidated else {"best.ckpt", "last.ckpt"}
        assert {p.name for p in checkpoints.iterdir()} == kept
        for name in kept:
            checkpoint = torch.load(checkpoints / name, weights_only=True)
            assert checkpoint["epoch"] == 0 and checkpoint["global_step"] in (5, 10)
            # The network's: val/acc_best starts at -inf, and stays there with no validation.
            assert all(torch.isfinite(t).all() for k, t in checkpoint["state_dict"].items() if k.startswith("net."))
        assert torch.load(checkpoints / "last.ckpt", weights_only=True)["global_step"] == 10  # epoch 0's end
    finally:
        shutil.rmtree(newest)  # the module's run is shared: the next case's fit is version_1 again


def test_an_infinite_loss_stops_the_fit_too(run: Run) -> None:
    # Checked as isfinite, not isnan: a log-probability of -inf for the true class is a loss of inf.
    result = run.fit("--trainer.accelerator=cpu", "--model.net=inf_net.InfNet", "--trainer.max_epochs=1")
    assert_one_line_error(result, 1, "training diverged: the loss is inf at step 1")


def test_a_python_fit_without_a_logger_diverges_in_one_line_of_no_folder(tmp_path: Path) -> None:
    """A Trainer without a logger has no run folder to name (a mutation audit: naming it unasked failed no test)."""
    from inf_net import InfNet  # tests/: a network whose loss is inf

    trainer = L.Trainer(max_steps=2, logger=False, callbacks=[StopOnNonFiniteLoss()], limit_val_batches=0, **QUIET)
    with pytest.raises(UserError) as err:
        trainer.fit(MNISTClassifier(InfNet()), datamodule=MNISTDataModule(data_dir=str(REPO / "data")))
    assert str(err.value).startswith("training diverged: the loss is inf at step ")
    assert "the run so far" not in str(err.value)


def test_a_run_that_logs_no_steps_reads_its_flag_at_the_epochs_end(monkeypatch: pytest.MonkeyPatch) -> None:
    """log_every_n_steps 0 (no per-step values): the accelerator's flag is read where validations and epochs end,
    not every 0 steps (a mutation audit: a ZeroDivisionError on a GPU, pretended here)."""
    monkeypatch.setattr(StopOnNonFiniteLoss, "_reads_freely", staticmethod(lambda loss: False))
    trainer = L.Trainer(
        max_steps=2, log_every_n_steps=0, logger=False, callbacks=[StopOnNonFiniteLoss()], limit_val_batches=0, **QUIET
    )
    trainer.fit(MNISTClassifier(MinimalCNN()), datamodule=MNISTDataModule(data_dir=str(REPO / "data")))
    assert trainer.global_step == 2


def test_unwritable_log_dir(run: Run, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    before = run.snapshot()
    with read_only(logs):
        result = run.fit(f"--trainer.logger.init_args.save_dir={logs}")
    assert_one_line_error(result, 1, f"log dir {logs / 'lenet'}", "--trainer.logger.init_args.save_dir")
    assert run.snapshot() == before
    assert not any(logs.iterdir())


@pytest.mark.parametrize("case", ["a resumed run", "its checkpoints, another callback's", "--checkpoint.dirpath"])
def test_an_unwritable_run_or_checkpoint_folder_is_refused_before_training(run: Run, tmp_path: Path, case: str) -> None:
    # Found out when the epoch's checkpoint was written, in a traceback of 30 lines; a new fit left its
    # run dir behind, without checkpoints.
    logs = tmp_path / "logs"
    if case != "--checkpoint.dirpath":  # an archived run, say
        folder = logs / "lenet" / "version_0"
        shutil.copytree(run.dir, folder)
        args = ["--trainer.max_epochs=2", f"--ckpt_path={folder / 'checkpoints' / 'last.ckpt'}"]
        expected = f"{folder}: the run cannot be written"
        if case != "a resumed run":  # the run's checkpoints are a second ModelCheckpoint's folder
            args += [f"--checkpoint.dirpath={tmp_path / 'elsewhere'}", "--trainer.callbacks+=ModelCheckpoint"]
            args += ["--trainer.callbacks.filename=other"]
            folder = folder / "checkpoints"
    else:
        folder = tmp_path / "rock"
        folder.mkdir()
        args = [f"--checkpoint.dirpath={folder}"]
        expected = f"--checkpoint.dirpath {folder}: cannot be written"
    before = digest(tmp_path)
    with read_only(folder):
        result = run.fit(f"--trainer.logger.init_args.save_dir={logs}", *args)
    assert_one_line_error(result, 1, expected)
    runs = [] if case == "--checkpoint.dirpath" else [logs / "lenet" / "version_0"]  # no new one
    assert digest(tmp_path) == before and sorted(logs.rglob("version_*")) == runs


@pytest.mark.parametrize("command", ["predict", "export"])
def test_an_output_in_an_unwritable_folder_is_one_line(
    run: Run, tmp_path: Path, command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # predict found out after predicting, TorchScript's export in a RuntimeError: both a traceback. Then
    # export after its 10-20 s of exporting: it is refused before it loads the checkpoint.
    monkeypatch.setattr(export, "load_model", lambda *args: pytest.fail("exported before its --output was checked"))
    out = tmp_path / "out"
    out.mkdir()
    if command == "predict":
        logs = f"--trainer.logger.init_args.save_dir={tmp_path / 'logs'}"
        args = ["predict", f"--ckpt_path={run.best}", DATA, logs, f"--predictions.output={out / 'p.csv'}"]
        expected = f"--predictions.output {out / 'p.csv'}: its folder cannot be written"
    else:
        args = ["export", f"--ckpt_path={run.best}", "--format=torchscript", f"--output={out / 'm.pt'}", DATA]
        expected = f"--output {out / 'm.pt'}: cannot be written"
    with read_only(out):
        result = run_main(*args, cwd=tmp_path)
    assert_one_line_error(result, 1, expected)
    assert list(out.iterdir()) == [] and list(tmp_path.glob("logs/*/version_*")) == []


# --- data -------------------------------------------------------------------------------------


def test_unwritable_data_dir(gz_dir: Path, run: Run) -> None:
    raw = gz_dir / "MNIST" / "raw"
    before = digest(gz_dir)
    with read_only(raw):
        result = run.fit(f"--data.data_dir={gz_dir}")
    assert_one_line_error(result, 1, f"{raw} is not writable", "--data.data_dir")
    assert digest(gz_dir) == before


def test_an_unwritable_empty_data_dir_is_named_itself(run: Run, tmp_path: Path) -> None:
    """Its MNIST/raw, not there, was named as the folder not writable, with the .gz files to decompress
    "there" yourself (an audit)."""
    empty = tmp_path / "empty"
    empty.mkdir()
    with read_only(empty):
        result = run.fit(f"--data.data_dir={empty}")
    fix = "where MNIST/raw is made for the data: make it writable, or give --data.data_dir a writable folder"
    assert_one_line_error(result, 1, f"error: {empty} is not writable (", fix)
    assert not list(empty.iterdir())


def _idx(name: str, count: int) -> bytes:
    """An IDX file as the official one, but holding ``count`` items."""
    with gzip.open(BUNDLED_RAW / f"{name}.gz") as f:
        data = bytearray(f.read())
    item = 28 * 28 if "images" in name else 1
    header = 16 if "images" in name else 8
    data[4:8] = count.to_bytes(4, "big")
    return bytes(data[: header + count * item])


# Slow ones: the same check is tested in-process in test_data.py, or by a sibling case.
@pytest.mark.parametrize(
    "case",
    [
        pytest.param("missing offline", marks=pytest.mark.slow),
        pytest.param("truncated gz", marks=pytest.mark.slow),
        pytest.param("truncated idx", marks=pytest.mark.slow),  # the same MD5 check as "wrong count"
        "wrong count",
    ],
)
def test_bad_data_files_are_named_before_training(gz_dir: Path, run: Run, case: str) -> None:
    raw = gz_dir / "MNIST" / "raw"
    target = raw / "train-labels-idx1-ubyte"
    args = [f"--data.data_dir={gz_dir}"]
    if case == "missing offline":  # MNIST's files would be taken from the repository's own copies
        args += ["--data.dataset=FashionMNIST", "--data.download=false"]
        expected = [f"{gz_dir}/FashionMNIST/raw/train-images-idx3-ubyte.gz is missing", "--data.download true"]
    elif case == "truncated gz":
        gz = raw / f"{target.name}.gz"
        gz.write_bytes(gz.read_bytes()[:5000])
        expected = [f"{gz} is not a valid gzip file", "replace it"]
    else:
        good = _idx(target.name, 60000)
        target.write_bytes(good[:30000] if case == "truncated idx" else _idx(target.name, 59000))
        expected = [str(target), "corrupt", "delete it"]
    before, run_before = digest(gz_dir), run.snapshot()
    assert_one_line_error(run.fit(*args), 1, *expected)
    after = digest(gz_dir)
    assert {name: after[name] for name in before} == before  # good files may have been decompressed next to it
    assert not list(raw.glob(".*.tmp"))
    assert run.snapshot() == run_before


def test_a_file_named_without_its_suffix_is_named_with_it(run: Run, tmp_path: Path) -> None:
    """configs/lenet and checkpoints/best (an audit): "no such file", and the fix gave no name."""
    result = run_main("fit", "--config", str(run.root / "lenet"), cwd=tmp_path)
    assert_one_line_error(
        result, 2, f"error: --config {run.root / 'lenet'}: no such file: did you mean {run.root / 'lenet.yaml'}?"
    )
    best = run.best.with_suffix("")
    result = run_main("test", f"--ckpt_path={best}", cwd=tmp_path)
    assert_one_line_error(result, 1, f"error: --ckpt_path {best}: no such file: did you mean {best}.ckpt?")
    # best and last misspelt (an audit): "give the path of a .ckpt file", without a word of them.
    result = run_main("test", f"--config={run.config}", "--ckpt_path=bset", DATA, run.logs_arg, cwd=tmp_path)
    assert_one_line_error(result, 1, "error: --ckpt_path bset: no such file: did you mean best?")
    assert list(tmp_path.iterdir()) == []
