"""Which run a ``fit`` writes to: a new version dir claimed atomically, or the run it resumes.

``validate``, ``test`` and ``predict`` of a run's checkpoint claim a folder in that run
(``test_0``); of another checkpoint, a new version dir. A run that fails before its first
training step gives its dir back.

A run is ``<save_dir>/<name>/version_N/``: its config, TensorBoard curves and checkpoints.
Lightning's loggers pick ``max(N) + 1`` by listing the folder and create it later, so two fits
started together can both pick ``version_0``; here the dir is claimed with ``os.mkdir``, which
only one process can win. A fit resumed from ``version_N/checkpoints/last.ckpt`` goes on in
``version_N``: same TensorBoard run, steps continuing, its ``best.ckpt``/``last.ckpt`` and their
bookkeeping (Lightning restores ``ModelCheckpoint``'s best score only if the dir is the same). A
fit from any other checkpoint (``best.ckpt``), or with a CSV logger, starts a new version dir,
leaving the run as it was; a CSV-logged resume's ``metrics.csv`` there starts with the run's
rows up to the checkpoint.
"""

import contextlib
import csv
import json
import logging
import os
import pkgutil
import shutil
import socket
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # Windows: no flock
    fcntl = None

import lightning as L
import yaml
from jsonargparse import Namespace
from lightning.fabric.utilities.rank_zero import rank_zero_only, rank_zero_warn
from lightning.pytorch.cli import SaveConfigCallback
from lightning.pytorch.loggers import CSVLogger, Logger, TensorBoardLogger
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
from tensorboard.compat.tensorflow_stub.errors import DataLossError

from mnist_pl.checkpoints import best_in, read
from mnist_pl.errors import UserError
from mnist_pl.files import beside, cannot_write, missing_folders, publish, remove_empty


def claim_new_version(root: Path) -> int:
    """The next free ``version_N`` under ``root``, created here so no other process gets it too."""
    root.mkdir(parents=True, exist_ok=True)
    taken = [int(d.name[8:]) for d in root.iterdir() if d.name.startswith("version_") and d.name[8:].isdigit()]
    version = max(taken, default=-1) + 1
    while True:
        try:
            os.mkdir(root / f"version_{version}")
            return version
        except FileExistsError:
            version += 1


def _version_dir(version: int | str) -> str:
    """The folder name of a logger's version, as TensorBoardLogger and CSVLogger name it."""
    return version if isinstance(version, str) else f"version_{version}"


def find_run_checkpoint(
    trainer: Namespace, configs: list[os.PathLike] | None, which: str, subcommand: str
) -> Path | None:
    """``--ckpt_path last`` (or ``best``, for ``validate``/``test``/``predict``): with a run's own saved
    config among ``configs`` (or, for a fit, a chosen ``version``), that run's ``last.ckpt`` or best
    checkpoint; else the newest run's (by time written, as Lightning picks "last") of the configured
    TensorBoard/CSV logger. None for another logger or a debugging run, where Lightning's own meaning
    of the word holds.

    Read from the config, before the model is built: its settings are then checked against the
    checkpoint's as for a path (``MNISTCLI._take_the_checkpoints_settings``).
    """
    logger = trainer.get("logger")
    if isinstance(logger, list):  # several loggers: the run is the first one's, as trainer.logger
        logger = logger[0] if logger else None
    if trainer.get("fast_dev_run") or not isinstance(logger, Namespace):
        return None
    if not issubclass(pkgutil.resolve_name(logger.class_path), TensorBoardLogger | CSVLogger):
        return None
    root = Path(logger.init_args.save_dir) / (logger.init_args.get("name") or "")
    # An evaluation's chosen version names the new run it logs to, not the run it evaluates.
    version = logger.init_args.get("version") if subcommand == "fit" else None
    # A chosen version names its run; so does a run's own config (the last --config wins, as for its
    # values). Without a last.ckpt there, another run's newest was resumed, its best.ckpt written over.
    # A TensorBoard sub_dir holds the config, below the run dir that holds the checkpoints.
    sub_dir = Path(os.path.normpath(logger.init_args.get("sub_dir") or "."))
    written = [Path(os.fspath(config)).absolute().parents for config in reversed(configs or [])]
    own = [parents[len(sub_dir.parts)] for parents in written if len(parents) > len(sub_dir.parts)]
    # A fit resumes a run of its logger's; an evaluation takes the run whose config it was given, wherever it is.
    own = [run for run in own if (run / sub_dir / "config.yaml").is_file()]
    evaluated = subcommand != "fit"
    own = [r for r in own if r.parent.resolve() == root.resolve() or (evaluated and (r / "checkpoints").is_dir())]
    # Named as its config was, relative or not (str: a jsonargparse Path's fspath is absolute): in Lightning's
    # line, the run's config and results.
    if not any(Path(str(config)).is_absolute() for config in configs or []):
        own = [Path(os.path.relpath(run)) for run in own]
    run = root / _version_dir(version) if version is not None else next(iter(own), None)
    pattern = "last.ckpt" if which == "last" else "*.ckpt"
    if run is None:
        # The newest run one folder deep (a named version's too, not a nested name's, adam/lr_0.01), by its
        # last.ckpt, or for its best by any checkpoint it wrote (another --checkpoint.filename writes no best.ckpt).
        candidates = list(root.glob(f"*/checkpoints/{pattern}"))
        if not candidates:
            # Without a --config the runs looked in are the app's default logger's (logs/mnist), not a recipe's.
            fix = (
                "train one first, or give a path"
                if configs
                else "give the recipe's --config (its newest run), or a path"
            )
            kind = "last.ckpt" if which == "last" else "checkpoint"
            raise UserError(f"--ckpt_path {which}: no run under {root} has a {kind}: {fix}")
        run = max(candidates, key=lambda p: p.stat().st_mtime).parents[1]
    settings = _checkpoint_settings(run / sub_dir / "config.yaml")
    if which == "last":
        last = run / "checkpoints" / "last.ckpt"
        found, missing, why = last if last.is_file() else None, "checkpoints/last.ckpt", "--checkpoint.save_last false"
    else:
        found = best_in(run / "checkpoints", settings["monitor"], settings["filename"])
        missing, why = "best checkpoint", "no validation, --checkpoint.save_top_k 0"
    dirpath = settings["dirpath"]
    if found is None and dirpath and Path(dirpath).resolve() != (run / "checkpoints").resolve():  # not the reasons said
        name = "last.ckpt" if which == "last" else f"{settings['filename']}.ckpt"
        raise UserError(
            f"--ckpt_path {which}: {run} keeps its checkpoints in {dirpath} (its --checkpoint.dirpath): "
            f"give one of them as --ckpt_path, such as {Path(dirpath) / name}"
        )
    if found is None:
        raise UserError(
            f"--ckpt_path {which}: {run} has no {missing} ({why}, stopped before its first epoch ended, or "
            "removed since): "
            f"give one of its checkpoints as --ckpt_path{', or start a new run' * (subcommand == 'fit')}"
        )
    return found


def _checkpoint_settings(config: Path) -> dict[str, Any]:
    """Where a run's checkpoints are, and how they are ranked and named (``checkpoint.dirpath``, ``monitor`` and
    ``filename``), as its ``config.yaml`` says; the app's defaults where it says none."""
    settings = {"dirpath": None, "monitor": "val/acc", "filename": "best"}
    with contextlib.suppress(OSError, yaml.YAMLError):
        tree = yaml.safe_load(config.read_text())
        given = tree.get("checkpoint") if isinstance(tree, dict) else None
        settings.update(given if isinstance(given, dict) else {})
    return settings


def run_dir(logger: Logger | None, log_dir: str | None) -> str | None:
    """The run dir of the logger's ``log_dir``: the one that holds the checkpoints, above a TensorBoard sub_dir."""
    sub_dir = logger.sub_dir if isinstance(logger, TensorBoardLogger) else None
    below = len(Path(os.path.normpath(sub_dir)).parts) if sub_dir and os.path.normpath(sub_dir) != "." else 0
    # A sub_dir inside the run dir only: trainer.refuse_bad_settings refuses others.
    if log_dir is None:
        return None
    return str(Path(log_dir).parents[below - 1] if below else Path(log_dir))  # version_0/. as version_0


def own_log_dir(trainer: L.Trainer) -> str:
    """``trainer.log_dir`` as rank 0 has it, without the broadcast the property makes under DDP: after a
    Ctrl-C, whose peers Lightning killed, that broadcast ended in a traceback of a closed connection."""
    logger = trainer.loggers[0] if trainer.loggers else None
    if isinstance(logger, TensorBoardLogger | CSVLogger):
        return logger.log_dir
    return logger.save_dir if logger is not None else trainer.default_root_dir


def _logged_steps(ckpt_path: Path) -> int:
    """How many steps the checkpoint's run had logged: where its TensorBoard curves go on."""
    checkpoint = read(ckpt_path)
    fit_loop = checkpoint["loops"]["fit_loop"]
    logged = fit_loop["epoch_loop.state_dict"]["_batches_that_stepped"]
    # Saved inside the epoch's loop (after a validation there, or at a batch's end), Lightning had
    # not yet counted the batch, and counts it on resuming: the points of that step were logged
    # before the checkpoint, and stay. Saved by the epoch's end hooks, it had counted it.
    epoch = fit_loop["epoch_progress"]["current"]
    return logged + (1 if epoch["processed"] < epoch["ready"] else 0)


def trained_to_its_end(trainer: L.Trainer) -> bool:
    """``trainer.fit_loop.done``, without the line Lightning logs each time it is read ("`Trainer.fit` stopped:
    `max_epochs=1` reached."): a fit stopped in its last validation said it twice, before the app's own line."""
    said = logging.getLogger("lightning.pytorch.utilities.rank_zero")  # rank_zero_info's
    quiet, said.disabled = said.disabled, True
    try:
        return trainer.fit_loop.done
    finally:
        said.disabled = quiet


def checkpoint_step(ckpt_path: Path) -> int:
    return read(ckpt_path)["global_step"]


def place_run(trainer: L.Trainer, ckpt_path: str | None) -> Path | None:
    """Point the trainer's logger (and so its checkpoints and config) at the run dir.

    Returns the run dir if this fit claimed a new one. Loggers other than TensorBoard/CSV keep
    Lightning's own behaviour; ``--trainer.fast_dev_run`` writes no run.
    """
    if trainer.fast_dev_run:
        # A debugging run writes nothing (Lightning swaps the logger for a stand-in), except that
        # ModelCheckpoint still saves last.ckpt when training ends (2.6): into ./checkpoints/, over
        # any file of that name there.
        for callback in trainer.checkpoint_callbacks:
            callback.save_last = False
        return None
    logger = trainer.logger
    if not isinstance(logger, TensorBoardLogger | CSVLogger):
        return None  # no logger, or another kind
    resume = resumes_its_run(logger, ckpt_path)
    if logger._version is not None and not resume:
        return None  # a version the user chose
    if resumes_in_place(trainer, ckpt_path):
        # Lightning touches these only through the constructor; it has no setter for either.
        if logger._version is None:  # a chosen one names the run already
            logger._version = _version_in(Path(logger.root_dir).resolve(), Path(ckpt_path).resolve().parents[1])
        # Points the interrupted run logged after its checkpoint are hidden, not doubled.
        logger._kwargs["purge_step"] = _logged_steps(Path(ckpt_path))
        for callback in trainer.callbacks:
            if isinstance(callback, SaveConfigCallback):  # keep the run's config.yaml, add this one
                n = newest_resume(Path(logger.log_dir)) + 1  # in a sub_dir's too
                callback.config_filename = f"config.resume{n}.yaml"
        return None
    claimed = claim_run(trainer)
    if resume and claimed is not None:
        carry_csv_rows(trainer, Path(ckpt_path))
    elif claimed is not None and Path(ckpt_path or "").name == "last.ckpt" and run_of(ckpt_path):
        # `fit --ckpt_path logs/lenet/version_0/checkpoints/last.ckpt` without the run's config (the app's default
        # logger, logs/mnist) trained on in logs/mnist/version_0, the run's curves cut in two, without a word.
        run = Path(os.path.abspath(ckpt_path)).parents[1]  # a bare last.ckpt has no parents[1] as typed
        n = newest_resume(run)
        config = run / (f"config.resume{n}.yaml" if n else "config.yaml")
        # Its save_dir too: a config's is relative (logs), and from another folder its own config made a new run.
        rank_zero_warn(
            f"{ckpt_path} is the last state of the run {run}, which this fit's logger does not write: it goes on in "
            f"a new run, {claimed}: to go on in its own, resume with --config {config} "
            f"--trainer.logger.init_args.save_dir {run.parent.parent}"
        )
    return claimed


def resumes_its_run(logger: TensorBoardLogger | CSVLogger, ckpt_path: str | None) -> bool:
    """Whether a fit from ``ckpt_path`` goes on in the run dir it came from: from its ``last.ckpt``,
    of a run of this logger (of its chosen version, where it has one).

    Only the run's latest state goes on in place. From an earlier one (best.ckpt) the run would
    fork: its later points hidden in TensorBoard, its pictures drawn over. That starts a new run.
    """
    if ckpt_path is None or Path(ckpt_path).name != "last.ckpt" or Path(ckpt_path).parent.name != "checkpoints":
        return False
    run_dir, root, chosen = Path(ckpt_path).resolve().parents[1], Path(logger.root_dir).resolve(), logger._version
    return run_dir == root / _version_dir(chosen) if chosen is not None else _version_in(root, run_dir) is not None


def refuse_an_unwritable_run(trainer: L.Trainer, ckpt_path: str | None) -> None:
    """A resume of a run kept read-only (an archived one) is refused before it trains: the first
    checkpoint it wrote there failed in a traceback, the run's epoch trained for nothing."""
    if not resumes_in_place(trainer, ckpt_path):
        return  # a new run dir: the log dir's check
    run = Path(ckpt_path).resolve().parents[1]
    own = any(getattr(callback, "dirpath", None) is None for callback in trainer.checkpoint_callbacks)  # else the CLI's
    if why := cannot_write(run) or (own and cannot_write(run / "checkpoints")):
        raise UserError(f"{run}: the run cannot be written ({why}): make it writable, or resume a copy of it")


def resumes_in_place(trainer: L.Trainer, ckpt_path: str | None) -> bool:
    """Whether a fit from ``ckpt_path`` goes on in its run's dir: not a CSV-logged one, whose writer would
    delete the run's metrics.csv (it goes on in a new dir, ``carry_csv_rows``)."""
    logger, csv_logged = trainer.logger, any(isinstance(other, CSVLogger) for other in trainer.loggers)
    return isinstance(logger, TensorBoardLogger) and not csv_logged and resumes_its_run(logger, ckpt_path)


def carry_csv_rows(trainer: L.Trainer, ckpt_path: Path) -> None:
    """A CSV-logged resume of a run, in a new dir, begins with the rows the run logged up to its checkpoint.

    Its ``metrics.csv`` (and ``curves.png``) is then the run's own had it never stopped: Lightning's
    CSV writer cannot go on in the run's dir without first deleting the file there.
    """
    old = ckpt_path.resolve().parents[1] / "metrics.csv"
    if not old.is_file():
        return
    until = _logged_steps(ckpt_path)  # the steps the checkpoint's run had logged: later rows are not its weights'
    try:
        with open(old, newline="") as file:
            rows = [row for row in csv.DictReader(file) if int(row["step"]) < until]
    except (OSError, csv.Error, KeyError, TypeError, ValueError) as err:  # not a metrics.csv Lightning wrote
        warnings.warn(f"{old} is not readable ({err!r}): this run's metrics.csv starts at the checkpoint", stacklevel=1)
        return
    for logger in trainer.loggers:
        if isinstance(logger, CSVLogger) and Path(logger.log_dir).resolve() != old.parent:
            for row in rows:  # the values as they were written: the same text
                logger.experiment.log_metrics({k: v for k, v in row.items() if v and k != "step"}, int(row["step"]))
            logger.save()


def place_evaluation(trainer: L.Trainer, stage: str, ckpt_path: str | None) -> Path | None:
    """Point ``validate``/``test``/``predict`` of a checkpoint at a folder of its own in the checkpoint's
    run, ``<stage>_N``, where that run is in the logger's ``save_dir``; returns the dir claimed.

    TensorBoard then lists it under its run (``lenet/version_0/test_0``): in a new run of its own,
    beside the fits (``mnist/version_3``), nothing said which checkpoint it evaluated, and with a
    recipe's ``--config`` it took the next fit's version number. A checkpoint from elsewhere (or
    none), a chosen version (but the run's own) or sub_dir, or a second logger: a new run dir, as a fit's.
    """
    logger, run = trainer.logger, evaluates_in_its_run(trainer, ckpt_path)
    if run is None:
        return claim_run(trainer)
    made_for_its_name = Path(logger.root_dir).absolute()  # logs/mnist, made for a new run there: not one now
    remove_empty(folder for folder in getattr(trainer, "made_dirs", ()) if folder == made_for_its_name)
    if rank_zero_only.rank != 0:
        return None  # other ranks write nothing; trainer.log_dir is rank 0's
    n = 0
    while True:
        try:
            (run / f"{stage}_{n}").mkdir()
            break
        except FileExistsError:
            n += 1
        except OSError:  # a run kept read-only, say: a new run (a failure gives its logs/mnist back too)
            logger._version = None  # not the run's own name, which its config gave
            return claim_run(trainer)
    if logger._version is None:  # else its chosen version names the run, in its root
        name = run.relative_to(Path(logger.save_dir).resolve()).parts[0]
        logger._name, logger._version = name, _version_in(Path(logger.save_dir).resolve() / name, run)
    logger._sub_dir = f"{stage}_{n}"
    return run / logger.sub_dir


def write_results(path: Path, results: dict[str, float], ckpt_path: str | None) -> None:
    """An evaluation's ``results.json`` (a fit's test's beside the run's config): its metrics for a
    script (the event file needs TensorBoard's reader, the printed table a parser), with the
    checkpoint they are of (null: the weights the fit ended with)."""
    with beside(path) as tmp:
        tmp.write_text(json.dumps({"ckpt_path": ckpt_path, **results}, indent=2) + "\n")
        publish(tmp, path, overwrite=False)  # a name of this evaluation's own


def newest_resume(folder: Path) -> int:
    """N of the newest config.resumeN.yaml in a run's folder, 0 where it has none; past a gap (a file removed by
    hand) too, so that a new one never takes an older number."""
    return max((int(n) for path in folder.glob("config.resume*.yaml") if (n := path.stem[13:]).isdigit()), default=0)


def run_of(ckpt_path: str | None) -> Path | None:
    """The run dir of a checkpoint in its ``checkpoints/`` folder, where a config says it is one."""
    if ckpt_path is None or not Path(ckpt_path).is_file():
        return None
    path = Path(ckpt_path).resolve()
    run = path.parent.parent  # "/" for /model.ckpt, a container's (parents[1] raised)
    return run if path.parent.name == "checkpoints" and (run / "config.yaml").is_file() else None


def _is_run(folder: Path) -> bool:
    """Whether ``folder`` is a run's dir: its config (in a TensorBoard sub_dir, below it) or checkpoints."""
    return (folder / "config.yaml").is_file() or (folder / "checkpoints").is_dir()


def _version_in(root: Path, run: Path) -> int | str | None:
    """The version of a logger of ``root`` (``logs/lenet``) that names ``run``: ``version_0`` as 0, a nested
    run whole (``adam/lr_0.01``); None for a folder not below it, or nested but not a run of its own (a
    checkpoints folder copied into a run, ``version_0/backup``)."""
    if root not in run.parents:
        return None
    relative = run.relative_to(root)
    if len(relative.parts) == 1:
        return _version_of(run)
    inside = any(_is_run(root / above) for above in list(relative.parents)[:-1])  # not root itself
    return None if inside or not (run / "config.yaml").is_file() else relative.as_posix()


def _version_of(run: Path) -> int | str:
    """A run dir's version as its logger's: ``version_N`` as N (the progress bar shows its last
    four characters, "on_0"), other names whole."""
    number = run.name.removeprefix("version_")
    return int(number) if number.isdigit() and str(int(number)) == number else run.name


@contextlib.contextmanager
def at_the_checkpoints_step(trainer: L.Trainer, ckpt_path: str | None) -> Iterator[None]:
    """A ``validate``/``test`` of a checkpoint, the fit's own test of its best included, logs its
    results at the step and epoch its fit's validation logged them (Lightning: step 0 and epoch 0,
    or the fit's last), beside the curves they belong to; the trainer's counters put back after."""
    loop = trainer.fit_loop
    before = loop.epoch_loop._batches_that_stepped, loop.epoch_progress.current.completed
    if ckpt_path is not None and Path(ckpt_path).is_file():
        checkpoint = read(ckpt_path)
        # In the fit, an epoch's validation logged at the step before the one the checkpoint counts.
        loop.epoch_loop._batches_that_stepped = max(checkpoint.get("global_step", 0) - 1, 0)
        loop.epoch_progress.current.completed = checkpoint.get("epoch", 0)
    try:
        yield
    finally:
        loop.epoch_loop._batches_that_stepped, loop.epoch_progress.current.completed = before


def claim_run(trainer: L.Trainer) -> Path | None:
    """A new version dir for the trainer's TensorBoard/CSV logger, unless it has chosen one; the dir or None.

    A TensorBoard and a CSV logger of the same ``save_dir`` and ``name`` write into the same dir:
    one run, one dir. Each would otherwise pick the next free version for itself. A second logger
    of a kind already there keeps its own dir: two event files in one dir show every point twice.
    """
    logger = trainer.logger
    # Under --trainer.fast_dev_run the logger is Lightning's stand-in (a DummyLogger): no run dir.
    if not isinstance(logger, TensorBoardLogger | CSVLogger) or logger._version is not None:
        return None
    if rank_zero_only.rank != 0:  # other ranks never write logs; the checkpoint dir is broadcast from rank 0
        return None
    root = Path(logger.root_dir)
    version = claim_new_version(root)
    kinds: set[type] = set()
    for other in trainer.loggers:
        kind = next((k for k in (TensorBoardLogger, CSVLogger) if isinstance(other, k)), None)
        if kind is None or kind in kinds or other._version is not None or Path(other.root_dir) != root:
            continue
        kinds.add(kind)
        other._version = version
        if kind is CSVLogger:
            _ = other.experiment  # opened now, in the empty dir: later, it warns that it would delete files there
    return Path(logger.log_dir)


@contextlib.contextmanager
def given_back_on_failure(trainer: L.Trainer, claimed: Path | None, start: int = 0) -> Iterator[None]:
    """A stage that fails before a training step (bad data, a setting Lightning checks at the start,
    any failed evaluation) removes the run dir it claimed: only a config and empty curves are there;
    and the log folders made for it, if empty.

    A resume that fails before its first step (a one-cycle schedule resumed for more epochs, say),
    or a fit refused from a chosen version's dir, removes the files it wrote there: its config
    (``config.resumeN.yaml``) and its event file, whose purge marker would hide the run's later
    points; another fit's, writing there at the same time, stay. ``start``: the step a fit from a
    checkpoint starts at; no step was trained while ``global_step`` is 0 or this.
    """
    # Written before this stage, and kept: the fit's own config, where its test fails; an earlier fit's of this process.
    before = _written_here(trainer) if claimed is None else set()
    try:
        yield
    except BaseException as err:  # Ctrl-C and SIGTERM too: Lightning ends them in SystemExit
        if trainer.global_step not in (0, start):  # it trained: what it wrote is a run's
            raise
        if claimed is not None:
            shutil.rmtree(claimed, ignore_errors=True)
            with contextlib.suppress(OSError):  # and the folder above, if empty: logs/<name>/ (a sub_dir's: its run's)
                claimed.parent.rmdir()
        # A stopped resume is resumed again with its config.resumeN.yaml, which the line after it names.
        if claimed is None and isinstance(err, Exception):
            for own in _written_here(trainer) - before:
                own.unlink(missing_ok=True)
        # and the log folders the command made for it (a new --trainer.logger.init_args.save_dir): not another run's
        remove_empty(getattr(trainer, "made_dirs", ()))
        raise


def _written_here(trainer: L.Trainer) -> set[Path]:
    """The files this process has written into its run dir: the config it saved there, its event
    files; an empty set on a rank other than 0, which writes none (its logger has no version of its own)."""
    logger = trainer.logger
    if rank_zero_only.rank != 0 or not isinstance(logger, TensorBoardLogger | CSVLogger):
        return set()
    configs = (c for c in trainer.callbacks if isinstance(c, SaveConfigCallback) and c.already_saved)
    own = {Path(logger.log_dir) / config.config_filename for config in configs}
    writer = f".{socket.gethostname()}.{os.getpid()}."  # in TensorBoard's events.out.tfevents.<time>.<host>.<pid>.<n>
    for tensorboard in (lg for lg in trainer.loggers if isinstance(lg, TensorBoardLogger)):
        own |= {path for path in Path(tensorboard.log_dir).glob("events.out.tfevents.*") if writer in path.name}
    return own


def tensorboard_of(trainer: L.Trainer) -> TensorBoardLogger | None:
    """The run's TensorBoard logger, the first of its loggers that is one: the curves and pictures go there."""
    return next((lg for lg in trainer.loggers if isinstance(lg, TensorBoardLogger)), None)


def drop_empty_event_files(trainer: L.Trainer) -> None:
    """Remove this process's event files that hold only their header: Lightning's logger opens one
    at every stage, ``predict``'s too, which TensorBoard listed as a run with nothing in it."""
    for path in _written_here(trainer):
        if path.name.startswith("events.out.tfevents."):
            with contextlib.suppress(OSError, DataLossError):
                if all(event.WhichOneof("what") == "file_version" for event in EventFileLoader(str(path)).Load()):
                    path.unlink()


@contextlib.contextmanager
def held(trainer: L.Trainer) -> Iterator[None]:
    """The fit's run dir, held while it trains: a resume of the run at the same time (its resume line
    run twice, a preempted job started again while it still ran) is refused in one line. Both trained
    into the run: two event files of the same steps, each one's last.ckpt over the other's. So is a
    ``--checkpoint.dirpath`` of its own: two fits started together found it empty, and both wrote there.

    An ``flock`` on each folder (a chosen version's, made here, is held from the start), which the
    system drops when the process (and any DataLoader worker it forked) ends, even by ``kill -9``.
    Where the filesystem has no locks, the fit goes on unheld, with a warning.
    """
    logger = trainer.logger
    if fcntl is None or rank_zero_only.rank != 0 or not isinstance(logger, TensorBoardLogger | CSVLogger):
        yield
        return
    run_dir = Path(logger.root_dir) / _version_dir(logger.version)  # a sub_dir's too
    held_by_others = {run_dir: f"{run_dir}: another fit is writing this run: let it end, then resume again"}
    dirpath = getattr(trainer.checkpoint_callback, "dirpath", None)  # None: the run's own checkpoints/
    # Each folder once: a second flock of the run dir, as a dirpath, was refused by this process's first.
    if dirpath is not None and Path(dirpath).resolve() != run_dir.resolve():
        held_by_others[Path(dirpath)] = (
            f"--checkpoint.dirpath {dirpath}: another fit is writing its checkpoints there: let it end, or give "
            "another folder"
        )
    with contextlib.ExitStack() as holding:
        for folder, refusal in held_by_others.items():
            made = missing_folders(folder)  # a nested name's (adam/lr_0.01) too
            folder.mkdir(parents=True, exist_ok=True)
            trainer.made_dirs = (*getattr(trainer, "made_dirs", ()), *(f.absolute() for f in made))  # given back
            descriptor = os.open(folder, os.O_RDONLY)
            holding.callback(os.close, descriptor)  # and the lock with it
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise UserError(refusal) from None
            except OSError as err:  # NFS without its lock daemon, some FUSE filesystems
                rank_zero_warn(
                    f"{folder}: cannot be locked ({err.strerror}): a fit writing it meanwhile is not refused"
                )
        yield


def evaluates_in_its_run(trainer: L.Trainer, ckpt_path: str | None) -> Path | None:
    """The run of the checkpoint an evaluation goes into (``<stage>_N`` there), or None: a new run dir.

    Only a TensorBoard logger alone, without a sub_dir, that chose no version or the run's own (its
    config.yaml names it: a run of a chosen name, evaluated with its own config), in the run's save_dir.
    """
    logger, run = trainer.logger, run_of(ckpt_path)
    alone = isinstance(logger, TensorBoardLogger) and len(trainer.loggers) == 1 and logger.sub_dir is None
    if not alone or run is None:
        return None
    if (chosen := logger._version) is not None:
        return run if Path(logger.root_dir).resolve() / _version_dir(chosen) == run else None
    save_dir = Path(logger.save_dir).resolve()  # not a run of another save_dir: <save_dir>/<name>/<version>
    if save_dir not in run.parents or len(run.relative_to(save_dir).parts) < 2:
        return None
    return run if _version_in(save_dir / run.relative_to(save_dir).parts[0], run) is not None else None


def refuse_a_chosen_run_dir_in_use(trainer: L.Trainer, fitting: bool, ckpt_path: str | None) -> None:
    """``--trainer.logger.init_args.version N`` where a run is: refused before Lightning opens an event file
    there, unless this fit resumes that run from its ``last.ckpt`` or this evaluation goes into the run.
    Any other logger's chosen version too: where a run logged, a CSV writer replaced its ``metrics.csv``
    and a TensorBoard one added this run's curves to the run's."""
    logger = trainer.logger
    if not isinstance(logger, TensorBoardLogger | CSVLogger) or rank_zero_only.rank != 0:
        return
    if fitting and resumes_in_place(trainer, ckpt_path):
        return
    if not fitting and evaluates_in_its_run(trainer, ckpt_path):
        return
    root, save_dir = Path(logger.root_dir), Path(logger.save_dir)
    # A logger name inside a run (lenet/version_0/checkpoints), as a version below: known by the run's config,
    # as a recipe's folder holding a --checkpoint.dirpath checkpoints/ is no run.
    inside = (above for above in (root, *root.parents) if save_dir in above.parents)
    if run := next((above for above in inside if (above / "config.yaml").is_file()), None):
        raise UserError(
            f"--trainer.logger.init_args.name {logger.name}: inside the run {run}: give a name of its own, such as mine"
        )
    if logger._version is not None:
        version = _version_dir(logger.version)
        # A nested name (a/b) groups runs; one inside a run put this one's files among that run's own.
        if run := next((root / p for p in list(Path(version).parents)[:-1] if _is_run(root / p)), None):
            raise UserError(
                f"--trainer.logger.init_args.version {version}: inside the run {run}: give a name of its own, "
                "such as mine, or leave it out (a new version_N for every run)"
            )
        for callback in trainer.callbacks:
            if isinstance(callback, SaveConfig):
                # The version dir itself too: with a sub_dir the config goes below it, the checkpoints into it.
                callback.refuse_a_run_dir_in_use(Path(logger.root_dir) / version)
                callback.refuse_a_run_dir_in_use(logger.log_dir)
        checkpoints = Path(logger.root_dir) / version / "checkpoints"
        if fitting and checkpoints.is_dir() and any(checkpoints.iterdir()):
            raise UserError(
                f"{checkpoints} holds an earlier run's checkpoints, and this one would write beside them: leave out "
                "--trainer.logger.init_args.version (a new version_N for every run), or give an unused one"
            )
    for each in trainer.loggers:
        if isinstance(each, TensorBoardLogger | CSVLogger) and each._version is not None:
            logged = Path(each.log_dir)
            # Not hparams.yaml alone: the logger writes it as a fit starts, and a start that failed leaves it.
            rows = logged / "metrics.csv"
            if found := [rows] if rows.is_file() else sorted(logged.glob("events.out.tfevents.*")):
                raise UserError(
                    f"{found[0]}: an earlier run's log, and this run's {type(each).__name__} (version "
                    f"{each._version}) would write there: give that logger an unused version, or none (a new one)"
                )


class SaveConfig(SaveConfigCallback):
    """Lightning's ``config.yaml`` writer; a run dir that holds one already is refused in one line.

    A new run always gets a new dir, but ``--trainer.logger.init_args.version N`` names one.
    Lightning refuses to write over the config there, in a traceback whose fix is an argument of
    ``LightningCLI``, not an option. ``validate``/``test``/``predict`` with ``--trainer.logger
    false`` write no config: Lightning put it in the current folder, where it refused the next one.
    (A ``fit`` without a logger is refused before it starts.)
    """

    warned = False  # of a resume's settings other than its run's: once, as its first epoch starts

    def refuse_a_run_dir_in_use(self, log_dir: str | os.PathLike) -> None:
        """One line naming the config file of the run in ``log_dir``, if there is one."""
        path = Path(log_dir) / self.config_filename
        if not path.is_file():
            return
        if self.config_filename.startswith("config.resume"):  # two resumes of one run at once
            raise UserError(f"{path} exists: another fit is resuming this run: let it end, then resume again")
        raise UserError(
            f"{path} exists: an earlier run is there, and this one would write over it: leave out "
            "--trainer.logger.init_args.version or give it null (a new version_N for every run), or give an unused one"
        )

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if trainer.logger is None:
            return
        try:
            super().setup(trainer, pl_module, stage)
        except RuntimeError:
            self.refuse_a_run_dir_in_use(trainer.log_dir)
            raise

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Once the checkpoint is restored and the LightningModule's on_train_start (after the callbacks')
        # took the resume: one its data module refused (another batch size in the middle of an epoch), or its
        # schedule (a one-cycle run for more epochs), warned first, of a config.resumeN.yaml the refusal then
        # removed. Asked on every rank, whatever its own view of the files: a broadcast from rank 0 under
        # DDP (rank 0 alone asking hung the fit).
        if self.warned:
            return
        self.warned, log_dir = True, trainer.log_dir
        if self.config_filename.startswith("config.resume") and trainer.is_global_zero:
            self.warn_of_other_settings(Path(log_dir))

    # Expected to change in a resume: the checkpoint it names, the epochs it adds, the files it writes.
    _RESUMED_ANEW = ("ckpt_path", "trainer.max_", "trainer.logger", "trainer.callbacks", "config", "seed_everything")

    def warn_of_other_settings(self, run: Path) -> None:
        """A resume (``--ckpt_path last``: the newest run of its config) trained on in the run with
        settings other than the run's own, without a word: another run's resumed by mistake, or a run
        of 20 batches an epoch going on with whole ones."""
        n = int(self.config_filename.removeprefix("config.resume").removesuffix(".yaml"))
        last = "config.yaml" if n == 1 else f"config.resume{n - 1}.yaml"  # the settings it trained with last
        with contextlib.suppress(OSError, ValueError, yaml.YAMLError):
            before = _flat(yaml.safe_load((run / last).read_text()))
            now = _flat(yaml.safe_load((run / self.config_filename).read_text()))
            other = [
                f"{key} {before.get(key)} -> {now.get(key)}"
                for key in sorted(before.keys() | now.keys())
                if before.get(key) != now.get(key) and not key.startswith(self._RESUMED_ANEW)
            ]
            if other:
                shown = ", ".join(other[:4]) + (f" and {len(other) - 4} more" if len(other) > 4 else "")
                rank_zero_warn(
                    f"resuming {run} with other settings than its {last}'s: {shown} ({self.config_filename} has "
                    f"them): resume with --config {run / last} (and the epochs to add) to keep its own"
                )


def _flat(settings: object, prefix: str = "") -> dict[str, object]:
    """A config's settings by dotted key (``trainer.max_epochs``), lists whole."""
    if isinstance(settings, dict) and settings:
        return {key: value for k, v in settings.items() for key, value in _flat(v, f"{prefix}{k}.").items()}
    return {prefix[:-1]: settings}
