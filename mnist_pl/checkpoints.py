"""What a checkpoint holds beyond Lightning's defaults, and how it reaches the disk.

Lightning 2.6 saves the weights, optimizer, schedulers, loop counters, callback states and
metrics, but not the random number generators: a run resumed from a checkpoint would draw other
dropout masks than the run that wrote it. ``RNGStates`` adds them. ``AtomicCheckpointIO`` makes
a killed write leave the previous checkpoint in place. ``RunCheckpoint`` writes ``last.ckpt``
after every epoch, as Lightning did before 2.6, and at the batch a SIGTERM stops the fit after;
a SIGTERM during a fit's validation takes effect where that validation ends and is saved.
``PlateauStepOnResume`` keeps a plateau schedule's step across a resume. ``check_readable`` reads a
checkpoint given to any command, refusing one mnist_pl did not write; ``refuse_bad_settings`` the
``checkpoint:`` settings that would name its files wrongly, ``refuse_a_second_last_ckpt`` two
callbacks writing one ``last.ckpt``. ``plain`` and ``objects_left_out`` keep the settings the model
and data module save into every checkpoint loadable weights-only.
"""

import ast
import contextlib
import difflib
import functools
import inspect
import operator
import os
import pickle
import random
import re
import signal
import threading
import zipfile
from argparse import ArgumentError
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import lightning as L
import numpy as np
import torch
from jsonargparse import Namespace
from lightning.fabric.utilities.cloud_io import _is_local_file_protocol
from lightning.pytorch import callbacks
from lightning.pytorch.core.mixins.hparams_mixin import _given_hyperparameters
from lightning.pytorch.plugins.io import TorchCheckpointIO
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn

from mnist_pl.errors import UserError
from mnist_pl.files import beside


def objects_left_out(*names: str) -> list[str]:
    """``save_hyperparameters(ignore=...)`` for the arguments ``names`` that are objects, not settings.

    Under LightningCLI (and a load of one of its checkpoints) Lightning is handed the config as the
    hyperparameters: class paths and arguments, from which a checkpoint alone rebuilds the module.
    Built in Python, as Lightning's docs teach, those arguments are objects (a network, an optimizer
    lambda), pickled into every checkpoint, which a weights-only load then refused, and into
    hparams.yaml (2.9 MB of tagged YAML for a LeNet). Left out, as Lightning advises: give them to
    ``load_from_checkpoint`` again (``MNISTClassifier.load_from_checkpoint(path, net=LeNet())``).
    """
    return [] if _given_hyperparameters.get() is not None else list(names)


@contextlib.contextmanager
def overrides_checked(
    cls: type, lightnings: Callable, kwargs: dict[str, Any], **stand_ins: Callable[[], Any]
) -> Iterator[None]:
    """``cls.load_from_checkpoint(path, **kwargs)`` (Lightning's ``lightnings``) in the block. A keyword neither takes,
    which Lightning dropped without a word (an audit: lr=0.5 kept SGD's 0.01), is refused (a subclass's ``**kwargs``
    takes any). A CLI run's checkpoint is rebuilt by jsonargparse, which checks the overrides against the CLI's
    types: a bad one was its ArgumentError, 80-155 lines. ``cls`` is then built with them (``stand_ins`` build its
    other required arguments): its own check says it in one line."""
    takes, loads = (inspect.signature(each).parameters for each in (cls, lightnings))
    anything = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in takes.values())  # a subclass's **kwargs
    if unknown := [name for name in kwargs if name not in takes and name not in loads and not anything]:
        raise UserError(
            f"{cls.__name__}.load_from_checkpoint({unknown[0]}={kwargs[unknown[0]]!r}): not an argument of "
            f"{cls.__name__}: give one of {', '.join(takes)}"
        )
    try:
        yield
    except ArgumentError:
        given = {name: value for name, value in kwargs.items() if name in takes or anything}
        cls(**{name: build() for name, build in stand_ins.items()} | given)
        raise


def plain(option: str, value: Any, kind: type[int | float | str | bool]) -> Any:
    """``value`` as a plain ``kind`` (None stays None): a checkpoint holds the settings its run was built with,
    and a weights-only load refused a ``Path`` or a numpy or torch number (or bool) among them; given from
    Python, every checkpoint of the run was unloadable, the run's own closing test included. A bool or a
    string for a number is refused: ``True`` was taken as 1, ``"0.5"`` as 0.5."""
    if value is None or type(value) is kind:
        return value
    expected = {int: "an int", float: "a number", str: "a path", bool: "true or false"}[kind]
    if kind is bool:
        if isinstance(value, np.bool_):
            return bool(value)
        raise UserError(f"{option} {value!r}: expected {expected}")
    if kind is not str and isinstance(value, bool | np.bool_ | str | bytes):  # True as 1, "0.5" as 0.5: a mistake
        raise UserError(f"{option} {value!r}: expected {expected}")
    try:
        return os.fspath(value) if kind is str else operator.index(value) if kind is int else float(value)
    except (TypeError, ValueError):
        raise UserError(f"{option} {value!r}: expected {expected}") from None


def read(ckpt_path: str | os.PathLike) -> dict[str, Any]:
    """A checkpoint's contents as weights only, its tensors left on disk (mmap) until used: reading the counters
    of one costs no copy of its weights."""
    return torch.load(ckpt_path, weights_only=True, map_location="cpu", mmap=True)


def check_readable(ckpt_path: str | os.PathLike) -> dict[str, Any]:
    """The checkpoint's contents, loaded as weights only; a missing, broken or code-carrying file in one line."""
    checkpoint = _load(ckpt_path)
    _refuse_malformed(ckpt_path, checkpoint)
    return checkpoint


def _load(ckpt_path: str | os.PathLike) -> Any:
    """``torch.load`` of the file, as weights only; each reason it cannot be loaded in one line, where torch
    would give a traceback, a warning, or (for damaged bytes) wrong weights."""
    if Path(ckpt_path).is_dir():
        raise UserError(f"--ckpt_path {ckpt_path} is a folder: give a .ckpt file, e.g. checkpoints/best.ckpt of a run")
    if not Path(ckpt_path).is_file():
        if Path(f"{ckpt_path}.ckpt").is_file():  # checkpoints/best (an audit)
            raise UserError(f"--ckpt_path {ckpt_path}: no such file: did you mean {ckpt_path}.ckpt?")
        if meant := difflib.get_close_matches(str(ckpt_path), ("best", "last"), n=1, cutoff=0.7):  # bset (an audit)
            raise UserError(f"--ckpt_path {ckpt_path}: no such file: did you mean {meant[0]}?")
        raise UserError(f"--ckpt_path {ckpt_path}: no such file: give the path of a .ckpt file")
    refuse_an_export(ckpt_path)  # torch.load would fail (after a warning, for TorchScript)
    refuse_damaged(ckpt_path)
    try:
        return read(ckpt_path)
    except PermissionError as err:
        raise UserError(f"--ckpt_path {ckpt_path}: not readable (permission denied): make it readable") from err
    except pickle.UnpicklingError as err:
        raise UserError(
            f"--ckpt_path {ckpt_path}: refused: it holds objects other than weights, which could run code "
            "when loaded: use a checkpoint written by mnist_pl, from a source you trust"
        ) from err
    except (RuntimeError, EOFError, OSError, ValueError) as err:  # OSError: mmap of some truncated files
        raise UserError(
            f"--ckpt_path {ckpt_path}: not a readable checkpoint (truncated or not a checkpoint): "
            f"give a .ckpt file written by mnist_pl{_beside(ckpt_path)}"
        ) from err


def _beside(ckpt_path: str | os.PathLike) -> str:
    """The other checkpoints of its folder, newest first, for an unreadable one's fix: a run's last.ckpt beside
    its damaged best.ckpt is the one the user has at hand. Not read here, each is checked where it is given;
    only a file that is no whole zip archive (empty, cut short, not torch's) is left out, by its last bytes."""
    path, found = Path(ckpt_path), []
    for other in path.parent.glob("[!.]*.ckpt"):  # not the LR finder's .lr_find_*.ckpt
        with contextlib.suppress(OSError):  # a dangling link, or one removed meanwhile: not a fix at hand
            if zipfile.is_zipfile(other):
                found.append((other.stat().st_mtime, other.name))
    names = [name for _, name in sorted(found, reverse=True) if name != path.name]
    return f" (beside it: {', '.join(names[:3])}{', ...' if len(names) > 3 else ''})" if names else ""


def refuse_damaged(ckpt_path: str | os.PathLike) -> None:
    """torch.load checks no checksum: 400 bytes flipped in a weight tensor tested at 12.6% with exit status 0,
    in its pickle a UnicodeDecodeError. The zip holds each record's CRC: 3.6 ms to check a LeNet best.ckpt."""
    try:
        with zipfile.ZipFile(ckpt_path) as archive:
            damaged = archive.testzip()
    except (zipfile.BadZipFile, OSError):  # not a zip: torch.load says what it is
        damaged = None
    if damaged is not None:  # a record's bytes off its CRC, or its header
        raise UserError(
            f"--ckpt_path {ckpt_path}: damaged (its part {damaged.split('/', 1)[-1]} reads back wrong): give a copy "
            f"of it from before, or another checkpoint{_beside(ckpt_path)}"
        )


def _refuse_malformed(ckpt_path: str | os.PathLike, checkpoint: Any) -> None:
    """A torch file that is no checkpoint mnist_pl wrote, edited by hand, or of a run that diverged: a
    traceback, or wrong results with exit status 0, where the checkpoint is used."""
    if not isinstance(checkpoint, dict) or not {"state_dict", "pytorch-lightning_version"} <= checkpoint.keys():
        raise UserError(
            f"--ckpt_path {ckpt_path}: a torch file, but not a Lightning checkpoint (no state_dict and version): "
            "give a .ckpt file written by mnist_pl"
        )
    for key in ("hyper_parameters", "datamodule_hyper_parameters"):  # read as dicts by Lightning, cli and export
        if not isinstance(settings := checkpoint.get(key, {}), dict):
            raise UserError(
                f"--ckpt_path {ckpt_path}: its {key} are {settings!r:.40}, not a dict (the file was edited or is "
                "damaged): give a .ckpt file written by mnist_pl"
            )
    # A run that diverged (written by a plain Trainer: the app's fits stop before saving such weights)
    # predicted class 0 at nan% for every image, tested at nan loss, and exported, all with status 0.
    if not isinstance(weights := checkpoint["state_dict"], dict):
        raise UserError(
            f"--ckpt_path {ckpt_path}: its state_dict is {weights!r:.40}, not a dict (the file was edited or is "
            "damaged): give a .ckpt file written by mnist_pl"
        )
    # Another LightningModule's: its settings were refused as an older mnist_pl's ("train it again with this
    # version"), its weights as another network's ("give its network class with --model.net"): neither can work.
    if not any(isinstance(name, str) and name.startswith("net.") for name in weights):
        shown = ", ".join(map(str, list(weights)[:3])) + (", ..." if len(weights) > 3 else "")
        raise UserError(
            f"--ckpt_path {ckpt_path}: a Lightning checkpoint, but not of mnist_pl's model (its weights: "
            f"{shown or 'none'}): give a .ckpt file written by mnist_pl"
        )
    # The network's only: a metric's state may be infinite (val_acc_best before any validation: -inf).
    if broken := [
        n for n, t in weights.items() if n.startswith("net.") and isinstance(t, torch.Tensor) and not _finite(t)
    ]:
        raise UserError(
            f"--ckpt_path {ckpt_path}: {len(broken)} of its weight tensors hold NaN or infinity ({broken[0]}: the "
            "run diverged): give a checkpoint from before, or train again (a lower lr)"
        )


def _finite(tensor: torch.Tensor) -> bool:
    return not tensor.is_floating_point() or bool(torch.isfinite(tensor).all())


def refuse_an_export(ckpt_path: str | os.PathLike) -> None:
    """A model ``python -m mnist_pl export`` wrote, given for the checkpoint it was exported from, in one line."""
    if kind := _exported_as(ckpt_path):
        raise UserError(
            f"--ckpt_path {ckpt_path}: an exported {kind} model, not a checkpoint: give the .ckpt it was exported from"
        )


def _exported_as(path: str | os.PathLike) -> str | None:
    """The format of a model ``python -m mnist_pl export`` writes, told by its contents; None for another file."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return "ONNX" if _is_onnx(path) else None
    if any(name.endswith("/constants.pkl") for name in names):  # torch.jit.save's, as torch.load tells it
        return "TorchScript"
    if any(name.endswith("/archive_format") for name in names):  # torch.export.save's PT2 archive
        return ".pt2 (torch.export)"
    return None


def _is_onnx(path: str | os.PathLike) -> bool:
    """An ONNX model: a protobuf ModelProto, whose writers put its ir_version (tag 0x08) first. Parsed only
    then: no checkpoint (a zip, or an old pickle) begins so, and onnx is imported for nothing else here."""
    try:
        with open(path, "rb") as file:
            if file.read(1) != b"\x08":
                return False
            data = file.read()
    except OSError:
        return False
    import onnx
    from google.protobuf.message import DecodeError

    try:
        model = onnx.ModelProto.FromString(b"\x08" + data)
    except DecodeError:
        return False
    return bool(model.opset_import) and model.HasField("graph")


class RNGStates(L.Callback):
    """Saves the global torch/CUDA/NumPy/Python RNG states in every checkpoint; restores them on resume.

    The states are taken when the checkpoint is written (after a validation or a training epoch, at
    a ``--checkpoint.every_n_train_steps`` step, on a stop by a signal), and
    put back as soon as Lightning restores the checkpoint: before the resumed run creates its
    first training iterator (which draws a seed from the torch RNG, as the uninterrupted run's
    next epoch does); the sanity check in between runs under Lightning's ``isolate_rng``. So the
    resumed run draws what the uninterrupted run drew after that checkpoint. Under DDP every rank
    was seeded alike and draws alike on the CPU, so rank 0's CPU states, the ones saved, are every
    rank's. Not so the CUDA generator of each rank's own GPU: rank 0 saves its process's, in which
    the other ranks' devices were seeded but never drawn from, so a multi-GPU resume draws other
    GPU random numbers (dropout on the GPU) than the run that was not stopped.
    """

    def __init__(self) -> None:
        self._loaded: dict[str, Any] | None = None  # the states of the checkpoint a fit starts from

    def state_dict(self) -> dict[str, Any]:
        # Tensors, ints and tuples only: Lightning loads checkpoints with torch.load(weights_only=True),
        # which refuses NumPy arrays (so Lightning's own _collect_rng_states cannot be stored).
        kind, keys, pos, has_gauss, gauss = np.random.get_state()
        return {
            "torch": torch.get_rng_state(),
            "torch.cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss),
            "python": random.getstate(),
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._loaded = state_dict
        self._apply(state_dict)

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # From a checkpoint written inside an epoch's loop (the middle of the epoch, or a validation
        # after its last batch) the uninterrupted run made no new training iterator before going on;
        # the resumed run just did, and drew its seed: the states again, as they were at the checkpoint.
        epoch = trainer.fit_loop.epoch_progress.current
        if self._loaded is not None and epoch.processed < epoch.ready:
            self._apply(self._loaded)
        self._loaded = None

    @staticmethod
    def _apply(state_dict: dict[str, Any]) -> None:
        torch.set_rng_state(state_dict["torch"])
        # One state per GPU the run saw: torch's set_rng_state_all indexes this machine's generators by
        # them, an IndexError where it has fewer (a 2-GPU run resumed from an epoch's end on one GPU).
        torch.cuda.set_rng_state_all(state_dict["torch.cuda"][: torch.cuda.device_count()])
        kind, keys, pos, has_gauss, gauss = state_dict["numpy"]
        np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
        random.setstate(state_dict["python"])


class PlateauStepOnResume(L.Callback):
    """The plateau schedule's step that Lightning skips in a resumed run, taken.

    Lightning steps a ``ReduceLROnPlateau`` after each epoch that ran all its batches, with the
    latest validation's value, after that epoch's checkpoints are written. A run resumed from one
    of them, or from the middle of an epoch, never takes that epoch's step: the value is in no
    checkpoint. It then trained on at the lr the run never stopped had cut. Here the latest value,
    and the last epoch that ran all its batches, are kept (in the checkpoint too), and the step that
    epoch missed is taken as the next one starts: before any batch, or the lr's curve point, of it.
    Only a monitor the validation logs (val/loss, val/acc): a training one is logged after the
    checkpoint is written.
    """

    def __init__(self) -> None:
        self.values: dict[str, tuple[float, int]] = {}  # a monitor's latest value, and its epoch
        self.whole = -1  # the last epoch that ran all its batches

    def state_dict(self) -> dict[str, Any]:
        return {"values": dict(self.values), "whole": self.whole}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.values, self.whole = dict(state_dict.get("values", {})), state_dict.get("whole", -1)

    def _note_whole_epoch(self, trainer: L.Trainer) -> None:
        if trainer.fit_loop.epoch_loop._num_ready_batches_reached():  # not an epoch cut by max_steps
            self.whole = trainer.current_epoch

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        for config in trainer.lr_scheduler_configs:
            value = trainer.callback_metrics.get(config.monitor)
            if config.reduce_on_plateau and str(config.monitor).startswith("val/") and value is not None:
                self.values[config.monitor] = (float(value), trainer.current_epoch)
        self._note_whole_epoch(trainer)  # a validation at the epoch's end comes before its checkpoint

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._note_whole_epoch(trainer)

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        ended = trainer.current_epoch - 1  # the epoch whose step may be missing
        for config in trainer.lr_scheduler_configs:
            value, epoch = self.values.get(config.monitor, (None, None))
            if not config.reduce_on_plateau or config.interval != "epoch" or epoch != ended or self.whole != ended:
                continue
            # Lightning steps after every frequency-th epoch: as many steps by now, or one missing.
            due = (ended + 1) // config.frequency
            if (ended + 1) % config.frequency == 0 and config.scheduler.last_epoch == due - 1:
                pl_module.lr_scheduler_step(config.scheduler, value)


class AtomicCheckpointIO(TorchCheckpointIO):
    """``torch.save`` to a temporary file next to the checkpoint, flushed to disk, then renamed over it.

    Lightning's own ``_atomic_save`` writes through an fsspec transaction whose temporary file is
    made by ``tempfile.mkstemp()`` in the system temp dir; when that is another filesystem (a
    tmpfs ``/tmp``, say) the final move is a copy, and a kill during it truncates the checkpoint.
    ``os.replace`` within one directory is atomic on POSIX and Windows. Remote paths keep
    Lightning's way.
    """

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        if not _is_local_file_protocol(path):
            super().save_checkpoint(checkpoint, path, storage_options)
            return
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with beside(path) as tmp:
            with open(tmp, "wb") as file:
                torch.save(checkpoint, file)
                file.flush()
                os.fsync(file.fileno())
            os.replace(tmp, path)


def _settings(state_key: str) -> dict[str, Any]:
    """The settings in a ModelCheckpoint's state key: the repr of a dict of plain values, but a
    train_time_interval's ``datetime.timedelta(seconds=300)``, read here without running it."""

    def quoted(interval: re.Match) -> str:
        return repr(str(timedelta(**{k: int(v) for k, v in re.findall(r"(\w+)=(-?\d+)", interval[1])})))

    return ast.literal_eval(re.sub(r"datetime\.timedelta\(([^)]*)\)", quoted, state_key))


def best_in(folder: Path, monitor: str | None, filename: str) -> Path | None:
    """The checkpoint of ``folder`` that its fit ranked best, as the newest checkpoint's bookkeeping
    names it (None: none there). Not by its name: with ``--checkpoint.save_top_k 2`` Lightning writes
    the second best into ``best-v1.ckpt``, which may be the better, and another ``--checkpoint.filename``
    has no ``best.ckpt`` at all. Of several ModelCheckpoints, the one of ``monitor``; a weights-only
    checkpoint keeps no bookkeeping: then the one named ``filename``. A damaged newest one (a truncated
    ``last.ckpt``) gives way to the newest readable one, whose bookkeeping named the best when it was written."""
    written = sorted(folder.glob("*.ckpt"), key=lambda path: path.stat().st_mtime, reverse=True)
    if not written:
        return None
    unreadable = []
    for path in written:
        try:
            states = check_readable(path).get("callbacks")
            break
        except UserError as err:
            unreadable.append(err)
    else:
        raise unreadable[0]  # the newest's
    if unreadable:
        rank_zero_warn(
            f"{written[0]} is not a readable checkpoint: the best is the one {path.name}'s bookkeeping names"
        )
    name = RunCheckpoint.STATE_NAME
    kept = {key: state for key, state in (states or {}).items() if key.startswith(f"{name}{{")}
    if len(kept) > 1:
        kept = {key: state for key, state in kept.items() if _settings(key[len(name) :]).get("monitor") == monitor}
    if kept:
        best = folder / Path(next(iter(kept.values())).get("best_model_path") or "").name  # of the folder it was in
        return best if best.suffix == ".ckpt" and best.is_file() else None
    named = folder / f"{filename}.ckpt"
    return named if states is None and named.is_file() else None


class RunCheckpoint(callbacks.ModelCheckpoint):
    """The run's ``--checkpoint``: best.ckpt (the best val/acc) and last.ckpt (every epoch) in the run's checkpoints/.

    Lightning 2.6 writes ``last.ckpt`` only when it writes a top-k checkpoint at the same step. With
    ``save_top_k: 1`` on ``val/acc`` that is only when the accuracy improves, so ``last.ckpt`` was
    the best epoch's, and a run resumed from it trained again every epoch after the best one. Here
    ``last.ckpt`` is written wherever Lightning would have written a top-k checkpoint (the end of
    a validation, or of a training epoch), as in Lightning 2.5. A step or time checkpoint due at a
    batch that a validation follows is written after it, where that validation's are.

    Named apart from Lightning's, so that ``--trainer.callbacks+=ModelCheckpoint`` names Lightning's
    (jsonargparse refused the name of two classes), and known to Lightning by Lightning's name, the
    ``state_key`` in the checkpoints of every version of the app, whose resumes keep their bookkeeping.
    """

    STATE_NAME = callbacks.ModelCheckpoint.__qualname__  # Lightning's name, in its state_key

    @property
    def state_key(self) -> str:
        return self.STATE_NAME + super().state_key.removeprefix(type(self).__qualname__)

    resumed_from: str | None = None  # the checkpoint whose state load_state_dict is given

    def on_load_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]) -> None:
        self.resumed_from = trainer.ckpt_path  # Lightning calls load_state_dict next, without the trainer

    _OWN = "run_checkpoint"  # a key of its state: the run's, told from another ModelCheckpoint's of Lightning's name

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), self._OWN: True}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        # A fit from another run's checkpoint is a new run (runs.place_run), whose best is its own.
        # Lightning keeps the other run's best_model_path (and warns that the dirpath changed): a
        # fit that then never validated tested the other run's best.ckpt instead of its own weights.
        # A checkpoint of this folder is this run's, also where its dirpath says otherwise: Lightning saves
        # the folder as the fit named it, relative to the folder it ran from. A resume from elsewhere (or
        # of a moved run) forgot the run's best and last, wrote best-v1.ckpt and last-v1.ckpt beside them,
        # and the next --ckpt_path last resumed from the old last.ckpt, training its epochs again.
        # (Not by the dirpath the checkpoint names, resolved from here: a fork into a folder of the same
        # relative name took the other run's best, and tested a best.ckpt it never wrote.)
        theirs = state_dict.get("dirpath", self.dirpath)
        if self.resumed_from is None or Path(self.resumed_from).resolve().parent != Path(self.dirpath).resolve():
            return
        kept = {**state_dict, "dirpath": self.dirpath}
        for key in ("best_model_path", "kth_best_model_path", "last_model_path"):
            kept[key] = self._in_this_folder(state_dict.get(key), theirs)
        kept["best_k_models"] = {
            self._in_this_folder(path, theirs): score for path, score in state_dict.get("best_k_models", {}).items()
        }
        super().load_state_dict(kept)

    def _in_this_folder(self, path: str | None, folder: str) -> str | None:
        """``path`` of a checkpoint in ``folder`` (the checkpoint's own dirpath), as this fit names that file."""
        if not path or Path(path).parent != Path(folder):
            return path
        return os.path.join(self.dirpath, Path(path).name)

    def refuse_another_keeping(self, checkpoint: dict[str, Any]) -> None:
        """A resume in its run keeps the run's monitor, mode and intervals.

        Lightning knows a ModelCheckpoint by them (its ``state_key``): of other ones it restored none
        of the run's bookkeeping, wrote best-v1.ckpt and last-v1.ckpt beside the run's, and a later
        resume read the old last.ckpt.
        """
        name, states = self.STATE_NAME, checkpoint.get("callbacks", {})
        theirs = [key for key in states if key.startswith(f"{name}{{")]
        # The run's own where marked (since 2026-12-07): another ModelCheckpoint's is kept under the same name.
        theirs = [key for key in theirs if states[key].get(self._OWN)] or theirs
        if not theirs or self.state_key in theirs:
            return
        ours, run = _settings(self.state_key[len(name) :]), _settings(theirs[0][len(name) :])
        changed = [key for key in ours if ours[key] != run.get(key)]
        shown = {None: "null"}
        raise UserError(
            ", ".join(f"--checkpoint.{key} {shown.get(ours[key], ours[key])}" for key in changed)
            + ": the run's checkpoints are kept by "
            + ", ".join(f"{key} {shown.get(run.get(key), run.get(key))}" for key in changed)
            + ", and so is its resume (Lightning would keep these apart, in best-v1.ckpt and last-v1.ckpt): "
            "leave the options out, or give those"
        )

    def _save_last_if_skipped(self, trainer: L.Trainer, at_train_epoch_end: bool) -> None:
        # After Lightning's own saving: if it saved anything at this step, it saved last.ckpt too.
        if self.save_last is not True or trainer.state.fn != "fit" or trainer.fast_dev_run or trainer.sanity_checking:
            return
        saved_here = self._last_global_step_saved == trainer.global_step
        on_epoch_end = self._should_save_on_train_epoch_end(trainer)  # Lightning's choice of where it saves
        if not at_train_epoch_end:
            # Also where Lightning keeps its checkpoints at the epoch's end, for a stop after a validation
            # inside the epoch: Lightning stops before that end. (Not under DDP, as at a batch's end: the
            # other ranks may not know of the signal yet, and a save waits for them all.)
            # Not after a batch of accumulated gradients either: held to their step, saved there.
            signalled = self.stop_held or trainer.received_sigterm
            stopping = signalled and trainer.world_size == 1 and not accumulating(trainer)
            if not saved_here and (not on_epoch_end or (stopping and not self._epoch_ends(trainer))):
                self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))
            return
        # At the end of every whole epoch, by its end hooks, also where Lightning saves after
        # validations (a --trainer.val_check_interval in batches): one before the epoch's last batches
        # left them in no checkpoint, and one after its last batch, saved inside the epoch's loop,
        # was resumed by running the epoch's end again (its points logged twice). At the end of one cut
        # short (max_steps, max_time's stop) where nothing saved its last step: the steps since the last
        # validation were in no checkpoint (a review). A cut at a validation's batch, or a signal's stop,
        # saved there, stays so: resumed, it goes on with the epoch, as the run would have.
        whole_epoch = trainer.fit_loop.epoch_loop.batch_progress.current.ready == trainer.num_training_batches
        if not saved_here or (not on_epoch_end and whole_epoch):
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))

    held_batch: int | None = None  # the batch whose checkpoint waits for the validation that follows it

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx: int):
        # Lightning wrote a step (or time) checkpoint due at a batch that a validation follows before that
        # validation: ranked by the one before it (best.ckpt by a stale val/acc), without its val/acc_best,
        # and a resume from it skipped it. (Monitoring val/acc, Lightning waits for the value, but at an
        # epoch's end it then wrote none: the epoch's last step= checkpoint was missing.) Its decision is
        # taken where it writes that validation's epoch checkpoints: at the epoch's end, or at the end of a
        # validation inside the epoch (_decide_held). Same step, same file name.
        loop = trainer.fit_loop.epoch_loop
        validation_follows = loop._should_check_val_fx(trainer.fit_loop._data_fetcher)
        if validation_follows:  # decided at that validation's end, or the epoch's: held until then
            self.held_batch = batch_idx
        else:
            super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
        # SIGTERM (a preemption, docker stop, kill) or a first Ctrl-C (signals.CtrlCAsSigterm) stops
        # Lightning's fit right after this batch, where it would otherwise lose every step since
        # the last checkpoint. Saved here, where an every_n_train_steps checkpoint is, the resume
        # goes on from this batch. Not where Lightning goes on instead: at max_steps it ends the
        # fit; before a validation it validates, and stops at that validation's end or the epoch's,
        # where last.ckpt is written (a resume from this batch's checkpoint skipped them, its curves'
        # points missing). Nor between accumulated batches (their gradients are in no checkpoint): held, a
        # stop waits for their step. Under DDP every rank has the signal at the same batch
        # (signals.sigterm_agreed), and joins the save.
        # Lightning's save_on_exception saves on any exception, Ctrl-C in the middle of a step
        # included, and under the top-k name too (here best.ckpt): not what a resume needs.
        stop = trainer.received_sigterm or self.stop_held
        if stop and not validation_follows and not loop._is_training_done and not loop._should_accumulate():
            if self.save_last is True and not self._should_skip_saving_checkpoint(trainer):  # fast_dev_run, saved
                self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))
            self._stop_now(trainer)

    def _epoch_ends(self, trainer: L.Trainer) -> bool:
        """Whether the epoch's end follows the validation ending now (its last batch, max_steps, a stop). Not
        after a signal's stop inside the epoch: Lightning raises before that end (a SIGTERM in the validation
        of a stop by max_time or EarlyStopping, left to that end, saved nothing; a review)."""
        signalled = trainer.received_sigterm or self.stop_held
        return trainer.fit_loop.epoch_loop._is_training_done or (trainer.should_stop and not signalled)

    def _decide_held(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Lightning's decision on the checkpoint of the batch a validation followed, now that it has run."""
        if self.held_batch is not None:
            batch_idx, self.held_batch = self.held_batch, None
            super().on_train_batch_end(trainer, pl_module, None, None, batch_idx)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._decide_held(trainer, pl_module)
        super().on_train_epoch_end(trainer, pl_module)
        self._save_last_if_skipped(trainer, at_train_epoch_end=True)
        self._stop_now(trainer)  # Lightning stops at the epoch's end, its last.ckpt written

    def defers_stops(self, trainer: L.Trainer) -> bool:
        """Whether a SIGTERM or first Ctrl-C now waits for the end of the validation in progress.

        Lightning stops a fit's validation after the batch the signal came in (unless the last),
        before any checkpoint of the training it validates: a signal in an epoch's last batch or its
        validation lost the whole epoch. Held until the validation's end, the stop comes where
        last.ckpt is written (lenet.yaml: 2.3 s after a Ctrl-C in its validation's first batch, on
        a 2-core EPYC; a second Ctrl-C still stops at once). Not under DDP, as at a batch's end, nor
        in the sanity check, which follows no training.
        """
        return self.save_last is True and trainer.world_size == 1 and trainer.state.fn == "fit" and trainer.validating

    stop_held = False  # a SIGTERM, or a first Ctrl-C, not yet shown to Lightning: it stops where it sees it
    _lightnings: Any = None  # Lightning's SIGTERM handler, while this one holds stops back

    def request_stop(self, trainer: L.Trainer) -> None:
        """What Lightning's SIGTERM handler does (a first Ctrl-C too): stop after the batch in progress, or,
        in a validation, at its end; held, where the next checkpoint is written."""
        if self._lightnings is not None:
            self.stop_held = True
        else:
            trainer._signal_connector.received_sigterm = True

    def _hold_sigterm(self, trainer: L.Trainer, signum: int, frame: FrameType | None) -> None:
        when = "this validation's end" if trainer.validating else "this batch"
        rank_zero_info(f"Received SIGTERM: {signum}: stopping after {when}")
        self.stop_held = True

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_train_start(trainer, pl_module)
        # Lightning reads its flag after a batch's hooks (this one's, which saves where a stop comes, among
        # them), and after every validation batch's: a signal after this hook stopped the fit unsaved, the
        # steps since the last checkpoint lost (1 stop in 8 on a loaded CPU; in a validation, 1 in 9). Its
        # handler is set aside for the fit's training instead; the stop is shown to it here, once saved.
        lightnings = signal.getsignal(signal.SIGTERM)
        main = threading.current_thread() is threading.main_thread()
        if self.save_last is True and trainer.world_size == 1 and callable(lightnings) and main:
            self._lightnings = signal.signal(signal.SIGTERM, functools.partial(self._hold_sigterm, trainer))
            if trainer.received_sigterm:  # came before the handler was set aside
                trainer._signal_connector.received_sigterm, self.stop_held = False, True

    def _stop_now(self, trainer: L.Trainer) -> None:
        """A held stop, shown to Lightning: it stops at its next look (after this batch, validation or epoch)."""
        if self.stop_held:
            trainer._signal_connector.received_sigterm, self.stop_held = True, False

    def _release(self, trainer: L.Trainer) -> None:
        if self._lightnings is not None:
            signal.signal(signal.SIGTERM, self._lightnings)
            self._lightnings = None
        self._stop_now(trainer)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_train_end(trainer, pl_module)
        self._release(trainer)  # a stop in its last batch: the fit stops after its last epoch (signals.fit)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Where Lightning saves this validation's checkpoints: here, or at the epoch's end if it follows.
        if not (self._should_save_on_train_epoch_end(trainer) and self._epoch_ends(trainer)):
            self._decide_held(trainer, pl_module)
        super().on_validation_end(trainer, pl_module)
        self._save_last_if_skipped(trainer, at_train_epoch_end=False)
        # A held stop: Lightning stops after this validation's end hooks, checkpointed. After a batch of
        # gradients accumulated for a later step, held on to that step (on_train_batch_end): stopped here,
        # its checkpoint had them in no state, and its resume trained on without them (a review).
        if not accumulating(trainer):
            self._stop_now(trainer)

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        super().on_exception(trainer, pl_module, exception)
        self.held_batch = None  # its validation did not end: not for a later fit's
        self._release(trainer)  # a second Ctrl-C in the validation: Lightning's handler back


def accumulating(trainer: L.Trainer) -> bool:
    """Whether the batch a fit's validation follows is one of gradients accumulated for a later step: a stop
    there waits for that step (signals._SigtermAgreed too). Not the sanity check's, before any step."""
    return (
        trainer.state.fn == "fit" and not trainer.sanity_checking and trainer.fit_loop.epoch_loop._should_accumulate()
    )


def _names_a_folder(filename: object) -> bool:
    """Whether a checkpoint's filename holds a folder too (its ``{metric}`` groups aside): Lightning joins it to the
    dirpath, and ../../version_0/checkpoints/best wrote over another run's best.ckpt (an audit)."""
    return isinstance(filename, str) and "/" in re.sub(r"\{.*?\}", "", filename)


def _a_metric_folder(filename: object, auto_insert: bool) -> tuple[str, str] | None:
    """The metric name with a folder in it that Lightning writes into the file's (epoch=0-val/acc=0.645.ckpt, in a
    folder epoch=0-val), and a filename that names it without one; None where there is none."""
    groups = re.findall(r"(\{.*?)[:}]", filename) if isinstance(filename, str) else []  # Lightning's own parse
    slashed = [group[1:] for group in groups if "/" in group]
    if not auto_insert or not slashed:
        return None
    named = str(filename)
    for group in sorted(groups, key=len, reverse=True):  # as Lightning inserts them
        named = named.replace(group, f"{group[1:].replace('/', '_')}={{{group[1:]}")
    return slashed[0], named


_A_PATH = "a file's name, not a path (it went into another folder, over the checkpoints there): give the folder as"


def refuse_bad_settings(checkpoint: Namespace | dict, subcommand: str) -> None:
    """The ``checkpoint:`` settings that would mislead the run's resume or name its files wrongly."""
    filename = checkpoint.get("filename")
    if _names_a_folder(filename):
        raise UserError(f"--checkpoint.filename {filename}: {_A_PATH} --checkpoint.dirpath")
    # Lightning's refusal named no option ("`mode` can be min, max but got maxx"; an audit).
    if (mode := checkpoint.get("mode", "max")) not in ("min", "max"):
        raise UserError(f"--checkpoint.mode {mode}: give max (the higher the monitored metric, the better) or min")
    # Lightning saved the best epoch as last.ckpt and the latest as last-v1.ckpt: --ckpt_path last took the best.
    if subcommand == "fit" and checkpoint.get("save_last") and filename == RunCheckpoint.CHECKPOINT_NAME_LAST:
        raise UserError(
            f"--checkpoint.filename {filename}: the name of the latest checkpoint: give the best one another name"
        )
    if found := _a_metric_folder(filename, checkpoint.get("auto_insert_metric_name", True)):
        raise UserError(
            f"--checkpoint.filename {filename}: Lightning writes the metric's name {found[0]} into the file's, a "
            f"folder: add --checkpoint.auto_insert_metric_name false and name it yourself, such as {found[1]}"
        )
    # The comment at RunCheckpoint's batch end says why; a diverged fit's NaN weights went over both (a review).
    if checkpoint.get("save_on_exception"):
        raise UserError(
            "--checkpoint.save_on_exception true: Lightning saves on any exception under the run's own names (a "
            "diverged fit's weights went over best.ckpt and last.ckpt): leave it out (a stop by Ctrl-C or SIGTERM is "
            "checkpointed where a resume goes on)"
        )
    # Lightning links last.ckpt to the latest top-k checkpoint, also where that is an older epoch's.
    if checkpoint.get("save_last") == "link":
        raise UserError(
            "--checkpoint.save_last link: the app writes last.ckpt after every epoch, which a link to the best "
            "one is not: give true, or false"
        )


def refuse_checkpoints_among_others(trainer: L.Trainer, goes_on: bool) -> None:
    """A ModelCheckpoint of the user's that names another folder in its filename (or a metric's with one), or,
    unless the fit ``goes_on`` in its run (a resume from its last.ckpt), writes into a folder of checkpoints (another
    run's): Lightning wrote best-v1.ckpt beside them, and a fit from a best.ckpt deleted the other run's. (The run's
    own ``--checkpoint`` is checked as parsed, and its dirpath as the fit starts.)"""
    for other in trainer.checkpoint_callbacks:
        if other is trainer.checkpoint_callback or not isinstance(other, callbacks.ModelCheckpoint):
            continue
        option = f"--trainer.callbacks {type(other).__name__}"
        if _names_a_folder(other.filename):
            raise UserError(f"{option} filename {other.filename}: {_A_PATH} its dirpath")
        if found := _a_metric_folder(other.filename, other.auto_insert_metric_name):
            raise UserError(
                f"{option} filename {other.filename}: Lightning writes the metric's name {found[0]} into the file's, "
                f"a folder: give it auto_insert_metric_name false and name it yourself, such as {found[1]}"
            )
        if not goes_on and other.dirpath and any(Path(other.dirpath).glob("*.ckpt")):
            raise UserError(
                f"{option} dirpath {other.dirpath} holds an earlier run's checkpoints, and this run would write "
                "beside them: give it an empty or new folder"
            )


def refuse_a_second_last_ckpt(trainer: L.Trainer) -> None:
    """Another ModelCheckpoint's last.ckpt in the run's folder: Lightning names one of the two
    last-v1.ckpt, the run's own at times, and a resume from that one started a new run."""
    ours = trainer.checkpoint_callback
    if not ours.save_last:
        return
    folder = ours.dirpath and Path(ours.dirpath).resolve()
    for other in trainer.checkpoint_callbacks:
        if other is ours or not isinstance(other, callbacks.ModelCheckpoint) or not other.save_last:
            continue
        if (
            other.CHECKPOINT_NAME_LAST == ours.CHECKPOINT_NAME_LAST
            and (other.dirpath and Path(other.dirpath).resolve()) == folder
        ):
            raise UserError(
                f"--trainer.callbacks {type(other).__name__} save_last {str(other.save_last).lower()}: it "
                "would write a last.ckpt beside the run's own (Lightning names one of them last-v1.ckpt): "
                "give it save_last false, or a dirpath of its own"
            )
