"""What is checked, shown and written around training, so that the LightningModule stays about learning."""

import contextlib
import csv
import errno
import inspect
import logging
import os
import pkgutil
import sys
from pathlib import Path
from typing import Any

import lightning as L
import matplotlib
import torch
from jsonargparse.typing import NonNegativeInt, PositiveInt
from lightning.pytorch.callbacks import BasePredictionWriter, Callback, LearningRateFinder
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.utilities.exceptions import SIGTERMException
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import Tensor
from torch.optim.lr_scheduler import OneCycleLR
from torch.utils.tensorboard.summary import hparams
from torchmetrics.classification import MulticlassConfusionMatrix
from torchvision.utils import make_grid

from mnist_pl.errors import UserError
from mnist_pl.files import beside, cannot_write, file_above, free_path, missing_folders, publish, remove_empty
from mnist_pl.runs import tensorboard_of, trained_to_its_end

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt


class StopOnNonFiniteLoss(Callback):
    """End ``fit`` at the first non-finite training loss, before a checkpoint of broken weights is written.

    Raising inside ``on_train_batch_end`` stops Lightning before the epoch's validation, so
    ``ModelCheckpoint`` never saves the NaN weights: ``best.ckpt`` and ``last.ckpt`` stay those of
    the last good epoch.

    Reading the loss is a host sync. On a CPU it is free, so every step is checked. On an
    accelerator each step's check is folded into a device-side flag (no sync), read on the steps
    the logger writes (``trainer.log_every_n_steps``, which sync anyway) and before every
    validation and epoch end, where ``ModelCheckpoint`` saves (unless given ``every_n_train_steps``):
    the run stops at most that many steps after the first bad one, with no checkpoint of it.
    """

    def __init__(self) -> None:
        self._bad: Tensor | None = None  # on an accelerator: has any loss since the last check been non-finite

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self._bad = None  # a fit's of its own: a validate after a diverged fit, from Python, failed on its flag

    @staticmethod
    def _reads_freely(loss: Tensor) -> bool:
        return loss.device.type == "cpu"

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: dict, batch: object, batch_idx: int
    ) -> None:
        loss = outputs["loss"].detach()
        step = trainer.global_step
        if self._reads_freely(loss):
            if not torch.isfinite(loss):
                self._fail(trainer, f"{loss.item()} at step {step}")
            return
        bad = ~torch.isfinite(loss)
        if self._bad is None:
            self._bad = torch.zeros((), dtype=torch.bool, device=loss.device)
        self._bad |= bad
        every = trainer.log_every_n_steps  # 0: the logger writes no step values
        if every and step % every == 0:
            self._check_flag(trainer)

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._check_flag(trainer)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._check_flag(trainer)  # Lightning runs the checkpoint callbacks' hooks after the others'

    def _check_flag(self, trainer: L.Trainer) -> None:
        if self._bad is not None and self._bad.item():
            self._fail(trainer, f"not finite by step {trainer.global_step}")

    @staticmethod
    def _fail(trainer: L.Trainer, where: str) -> None:
        lr = trainer.optimizers[0].param_groups[0]["lr"] if trainer.optimizers else float("nan")
        # The run's folder stays, with its earlier checkpoints, config and curves: said where.
        run = f" (the run so far: {trainer.log_dir})" if trainer.loggers else ""
        raise UserError(
            f"training diverged: the loss is {where} (epoch {trainer.current_epoch}, lr {lr:g}), "
            f"no checkpoint was written for it{run}: "
            "lower --model.optimizer.init_args.lr and run again"
        )


class PredictionWriter(BasePredictionWriter):
    """Writes what ``predict`` found to a CSV and prints its first rows.

    One row per image: its file (or ``test[i]``), the true label where known, the predicted
    class (number and name), its probability and all ten probabilities.

    Args:
        output: CSV path; if it exists, ``-1``, ``-2``, ... is added to the name. By default
            ``predictions.csv`` in the predict's own folder, beside its ``config.yaml`` (``predict_0``
            in the run of its checkpoint, or a new run's), or in the current folder without a logger.
        show: rows printed.
    """

    def __init__(self, output: str | None = None, show: NonNegativeInt = 10) -> None:
        super().__init__(write_interval="epoch")
        if output == "":  # Path("") is the current folder: "--predictions.output . is a folder"
            raise UserError("--predictions.output is empty: give a file name, e.g. predictions.csv")
        self.given = None if output is None else Path(os.path.expanduser(output))  # ~/p.csv: not a folder "~" here
        self.output, self.show = self.given or Path("predictions.csv"), show
        self.made: list[Path] = []  # the folders setup makes, deepest first: given back if predict stops
        self.written: tuple[L.LightningDataModule, list[list], Path] | None = None  # printed in teardown

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        # Into the predict's folder, as a test's results go into the test's: the current folder filled up
        # with predictions-1.csv, predictions-2.csv, ... of every checkpoint predicted there.
        log_dir = trainer.log_dir if trainer.loggers else None  # no logger: here, not default_root_dir
        self.output = self.given or Path(log_dir or "") / "predictions.csv"
        # Before predicting, not after: the CSV must be a file, in a folder it can be written to.
        if self.output.suffix.lower() != ".csv" and not self.output.is_dir():  # one.jpg: CSV rows in one-1.jpg
            raise UserError(
                f"--predictions.output {self.output}: the predictions are a CSV: give a name ending in .csv"
            )
        if self.output.is_dir():
            raise UserError(
                f"--predictions.output {self.output} is a folder: give a file name, "
                f"e.g. {self.output / 'predictions.csv'}"
            )
        if file := file_above(self.output):
            raise UserError(f"--predictions.output {self.output}: {file} is a file, not a folder: give another path")
        self.made = missing_folders(self.output.parent)
        try:
            self.output.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise UserError(
                f"--predictions.output {self.output}: cannot make its folder ({err.strerror}): give another path"
            ) from err
        if why := cannot_write(self.output.parent):
            raise UserError(
                f"--predictions.output {self.output}: its folder cannot be written ({why}): give another path"
            )

    def on_predict_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        # Lightning's validation and test loops stop after the batch SIGTERM came in; its predict loop
        # ran to its end and exited with status 0. Stopped, it writes nothing, as after Ctrl-C.
        if trainer.received_sigterm:
            raise SIGTERMException

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        if self.written is not None:  # stopped after the CSV was written: its last line says "with no results"
            self.written[2].unlink(missing_ok=True)
            self.written = None
        remove_empty(self.made)

    def write_on_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, predictions, batch_indices) -> None:
        probs = torch.cat(predictions).float().cpu()
        # The dataset index of each prediction: not all of them under --trainer.limit_predict_batches.
        indices = [i for batch in batch_indices[0] for i in batch]
        if trainer.world_size > 1:
            gathered = self._gathered(trainer, indices, probs)
            if gathered is None:
                return
            indices, probs = gathered
        rows = self._rows(trainer.datamodule, indices, probs)
        self.written = (trainer.datamodule, rows, self._write_csv(rows))

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        # After the progress bar's end, not at the epoch's: the bar, closed after the rows, was drawn again below
        # them, and the line naming the CSV was no longer the last.
        if self.written is not None:
            self._print_rows(*self.written)
            self.written = None

    @staticmethod
    def _gathered(trainer: L.Trainer, indices: list[int], probs: Tensor) -> tuple[list[int], Tensor] | None:
        """All ranks' predictions on rank 0, each image once, in order (None on the others, which write nothing).

        Each rank predicted its own shard (with fewer images than ranks, some twice: see
        MNISTDataModule._loader). all_gather_object, not Lightning's all_gather: that one calls a
        torch.distributed function torch 2.14 warns about.
        """
        shards: list = [None] * trainer.world_size
        torch.distributed.all_gather_object(shards, (indices, probs))
        if not trainer.is_global_zero:
            return None
        by_index = {i: row for shard_indices, shard in shards for i, row in zip(shard_indices, shard, strict=True)}
        indices = sorted(by_index)
        return indices, torch.stack([by_index[i] for i in indices])

    @staticmethod
    def _rows(dm: L.LightningDataModule, indices: list[int], probs: Tensor) -> list[list]:
        """The CSV's rows: file, label (empty where not known), class, confidence, p0..p9."""
        names = [dm.predict_names[i] for i in indices]
        labels = ["" if label < 0 else label for label in dm.predict_set.labels[indices].tolist()]
        classes = dm.classes
        confidence, predicted = probs.max(dim=1)
        return [
            [name, label, p, classes[p], f"{c:.4f}", *(f"{x:.4f}" for x in row)]
            for name, label, p, c, row in zip(
                names, labels, predicted.tolist(), confidence.tolist(), probs.tolist(), strict=True
            )
        ]

    def _write_csv(self, rows: list[list]) -> Path:
        """The CSV, whole under the first free name from ``output``, never over another predict's: its path."""
        try:
            with beside(self.output) as tmp:
                # A file name whose bytes are not UTF-8 (Python holds them as surrogates) goes into the
                # CSV as those bytes: it names the file. It ended in a traceback, the temporary file left.
                with open(tmp, "w", newline="", encoding="utf-8", errors="surrogateescape") as file:
                    writer = csv.writer(file)
                    header = ["file", "label", "predicted", "class", "confidence", *(f"p{i}" for i in range(10))]
                    writer.writerow(header)
                    writer.writerows(rows)
                while True:  # another predict may take the free name before this one's rename
                    path = free_path(self.output)
                    with contextlib.suppress(FileExistsError):
                        publish(tmp, path, overwrite=False)
                        return path
        except OSError as err:  # a full disk (a 64-line traceback): its folder was checked before predicting
            space = "free some space, or " if err.errno in (errno.ENOSPC, errno.EDQUOT) else ""
            raise UserError(
                f"{self.output}: cannot be written ({err.strerror or err}): {space}give another --predictions.output"
            ) from err

    def _print_rows(self, dm: L.LightningDataModule, rows: list[list], path: Path) -> None:
        """The first ``show`` rows as a table (the true class beside the predicted one where known), the
        accuracy on the images of a known class, then how many were written where."""
        # Names printable on a UTF-8 terminal.
        shown = [
            (name.encode("utf-8", "surrogateescape").decode("utf-8", "replace"), *row)
            for name, *row in rows[: self.show]
        ]
        labelled = [(label, predicted) for _, label, predicted, *_ in rows if label != ""]
        if shown:
            width = max(len(row[0]) for row in shown)
            print(f"{'image':<{width}}  {'true class    ' * bool(labelled)}predicted     confidence")
            for name, label, _, class_name, conf, *_ in shown:
                true = f"{dm.classes[label] if label != '' else '':<12}  " if labelled else ""
                print(f"{name:<{width}}  {true}{class_name:<12}  {float(conf):.1%}")
        if labelled:
            right = sum(label == predicted for label, predicted in labelled)
            print(f"accuracy {right / len(labelled):.2%} ({right:,} of {len(labelled):,} labelled images)")
        more = f" ({len(rows) - len(shown):,} more)" if shown and len(rows) > len(shown) else ""
        print(f"{len(rows):,} prediction{'s' * (len(rows) != 1)}{more} written to {path}")


HPARAMS_METRICS = ("val/acc_best", "val/acc", "val/loss", "test/acc", "test/loss")


def run_settings(trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, str | float]:
    """The settings that tell runs apart, under the same names in every run, for the HPARAMS tab.

    TensorBoard takes the tab's columns from one run's list, the first it finds: with hparams.yaml's
    settings flattened, a setting only some runs have (a schedule's ``max_lr``, a net's ``width``) was
    no column, and the columns changed as runs were added. Here a class and the arguments it is given
    other than its defaults are one column (``FastCNN(width=16)``); hparams.yaml and config.yaml keep
    every setting. Built in Python, the network and schedule are named by their class.
    """
    model, data = pl_module.hparams, getattr(trainer.datamodule, "hparams", {})
    optimizer = trainer.optimizers[0] if trainer.optimizers else None
    schedule = trainer.lr_scheduler_configs[0].scheduler if trainer.lr_scheduler_configs else None
    seed = os.environ.get("PL_GLOBAL_SEED")
    settings = {
        "net": _called(model.get("net"), getattr(pl_module, "net", None)),
        # The optimizer built: its class, and its arguments as given (the CLI's or a partial's).
        "optimizer": _called(None if optimizer is None else as_given(optimizer), leave_out="lr"),
        "lr": optimizer.defaults.get("lr", "none") if optimizer is not None else "none",
        "scheduler": _called(model.get("scheduler"), schedule),
        "label_smoothing": model.get("label_smoothing", "none"),
        "batch_size": data.get("batch_size", "none"),
        "augment": _called(data.get("augment")),
        "dataset": data.get("dataset", "none"),
        "max_epochs": trainer.max_epochs if trainer.max_epochs is not None else "none",
        "precision": str(trainer.precision),
        "seed": "none" if seed is None else int(seed),  # a number: the tab sorts and filters runs by it
    }
    return {key: value if isinstance(value, str) else float(value) for key, value in settings.items()}


def as_given(optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """An optimizer built as a config names it: its class, and the settings its class does not set itself
    (AdamW's decoupled_weight_decay=True, a setting of Adam's that AdamW's signature lacks, was shown on every run)."""
    try:
        own = type(optimizer)([torch.zeros(1, requires_grad=True)]).defaults
    except (TypeError, ValueError, RuntimeError):  # a setting it needs, or 2D weights (Muon): each setting shown
        own = {}
    given = {key: value for key, value in optimizer.defaults.items() if key not in own or not _same(value, own[key])}
    return {"class_path": type(optimizer), "init_args": given}


def _called(spec: object, built: object = None, leave_out: str = "") -> str:
    """``FastCNN(width=16)``: a config's ``class_path`` with the ``init_args`` not at their defaults;
    an object's class name where there is no config; ``none`` for neither."""
    if not isinstance(spec, dict) or "class_path" not in spec:
        return "none" if built is None else type(built).__name__
    cls = spec["class_path"]
    if isinstance(cls, str):
        with contextlib.suppress(ImportError, AttributeError, ValueError):  # not found: its name, every argument
            cls = pkgutil.resolve_name(cls)
    name = getattr(cls, "__name__", str(spec["class_path"]).rpartition(".")[2])
    try:
        defaults = {k: p.default for k, p in inspect.signature(cls).parameters.items()}
    except (TypeError, ValueError):  # not found, or no signature
        defaults = {}
    args = [
        f"{key}={value}"
        for key, value in (spec.get("init_args") or {}).items()
        if key != leave_out and not _same(value, defaults.get(key, inspect.Parameter.empty))
    ]
    return f"{name}({', '.join(args)})"


def _same(value: object, default: object) -> bool:
    """A config's list for a tuple default (Adam's betas) is the same setting."""
    if isinstance(value, list | tuple) and isinstance(default, list | tuple):
        return list(value) == list(default)
    try:
        return bool(value == default)
    except (TypeError, RuntimeError):  # a tensor of several values
        return False


class ImageLogger(Callback):
    """Pictures in TensorBoard, and PNGs in the run dir for those who would rather not open it.

    TensorBoard: a grid of the run's first training batch as the model sees it (normalisation
    undone, augmentation included); after each validation and test, the confusion matrix and
    the misclassified images titled true -> predicted; ``run_settings`` with the validation's and
    test's accuracy and loss (HPARAMS). Run dir, when ``fit`` ends (or stops after its last epoch): ``curves.png`` (loss
    and accuracy per epoch, read back from the logger's files, so a run resumed in its own dir has
    whole curves) and ``confusion_matrix.png`` (the last validation). A training step gets nothing
    but a check of one flag; an evaluation batch, an ``update`` of the confusion matrix, and a
    read-back of its misclassified images until the grid is full.

    Args:
        max_images: images in the training grid and the misclassified grid.
    """

    def __init__(self, max_images: PositiveInt = 36) -> None:
        self.max_images = max_images
        self.confusion: MulticlassConfusionMatrix | None = None
        self.wrong: list[tuple[Tensor, int, int]] = []
        self.new_run = False  # a fit that starts a run dir: it gets the HPARAMS entry and the training grid

    @staticmethod
    def starts_a_run(tensorboard: TensorBoardLogger, ckpt_path: str | None) -> bool:
        """Whether this fit writes into a run dir of its own, not the one its checkpoint came from.

        A resume in the run's own dir (or its ``sub_dir``) has the HPARAMS entry and the grid; a fit
        from any other checkpoint (a best.ckpt, one kept elsewhere) starts a run at its checkpoint's
        epoch. Decided by the dir the logger writes to: it may be another than the checkpoint's.
        """
        if ckpt_path is None:
            return True
        run_dir = Path(ckpt_path).resolve().parent.parent  # "/": of a checkpoint kept at the root (parents[1] raised)
        in_place = Path(tensorboard.log_dir).resolve().is_relative_to(run_dir)
        return not (in_place and Path(tensorboard.root_dir).resolve() in run_dir.parents)  # adam/lr_0.01 too

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        tensorboard = tensorboard_of(trainer)
        self.new_run = tensorboard is not None and self.starts_a_run(tensorboard, trainer.ckpt_path)
        if not self.new_run or not trainer.is_global_zero:
            return
        writer = tensorboard.experiment._get_file_writer()
        # Lightning's log_hyperparams(params, metrics) also logs each metric's placeholder value as
        # a first point of its curve; the hparams summaries alone need no such point.
        for summary in hparams(run_settings(trainer, pl_module), dict.fromkeys(HPARAMS_METRICS, 0.0)):
            writer.add_summary(summary)

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Lightning's LearningRateFinder, with update_attr false (the app's lr is the optimizer's setting, which
        # config.yaml records), found an lr and kept it to itself: said here, its curve beside the run's pictures.
        finders = [c for c in trainer.callbacks if isinstance(c, LearningRateFinder) and c.optimal_lr is not None]
        if not finders:  # every fit but a finder's: nothing asked, no broadcast
            return
        log_dir = trainer.log_dir  # a broadcast under DDP: every rank must ask
        for finder in finders:
            if not trainer.is_global_zero or log_dir is None:
                continue
            path = free_path(Path(log_dir) / "lr_find.png")  # a resume's finder: lr_find-1.png beside the run's
            finder.optimal_lr.plot(suggest=True).savefig(path, dpi=100)
            plt.close("all")
            lr, tried = finder.optimal_lr.suggestion(), finder.optimal_lr.results["lr"]
            found = f"suggests lr {lr:.3g}" if lr is not None else "found no lr (too few steps: num_training_steps)"
            fix = f": give --model.optimizer.init_args.lr {lr:.3g} to train at it" if lr is not None else ""
            # Its steps are the fit's first epochs': fewer batches ended them long before max_lr (Lightning says
            # "diverging loss"), and the lr suggested was one of the lowest it tried (3.31e-07, in an audit).
            # Ended at an epoch's end, not where the loss diverged, mid-epoch.
            epoch = trainer.num_training_batches
            if len(tried) < finder._num_training_steps and epoch and len(tried) % epoch == 0:
                found = (
                    f"found no lr: the fit's epochs ({len(tried)} batches) ended its {finder._num_training_steps} "
                    f"steps, at lr {tried[-1]:.3g} of the {finder._max_lr:g} they would reach"
                )
                fix = f": give --trainer.callbacks.num_training_steps {len(tried)} (or more batches an epoch)"
            # A one-cycle schedule sets the lr from its own max_lr: the optimizer's was not used (an audit).
            elif lr is not None and any(isinstance(c.scheduler, OneCycleLR) for c in trainer.lr_scheduler_configs):
                fix = f": give --model.scheduler.init_args.max_lr {lr:.3g} (the one-cycle schedule's peak lr)"
            off_the_bar = "\n" * (trainer.progress_bar_callback is not None)  # the sanity check's, on stderr too
            print(f"{off_the_bar}note: LearningRateFinder {found} (its curve: {path}){fix}", file=sys.stderr)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx: int):
        if not self.new_run:  # every step but a new run's first: nothing, at once
            return
        self.new_run = False
        images = self._pixels(trainer, batch[0][: self.max_images])
        step = max(trainer.global_step - 1, 0)  # the batch's (a fork's starts at its checkpoint's: it said 0)
        tensorboard_of(trainer).experiment.add_image("train/images", make_grid(images, nrow=6, pad_value=0.5), step)

    def on_validation_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._start(pl_module)

    def on_test_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._start(pl_module)

    def on_validation_batch_end(self, trainer, pl_module, outputs: Tensor, batch, batch_idx: int, dataloader_idx=0):
        self._update(trainer, outputs, batch)

    def on_test_batch_end(self, trainer, pl_module, outputs: Tensor, batch, batch_idx: int, dataloader_idx=0):
        self._update(trainer, outputs, batch)

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:  # a few batches of the untrained network: not a validation to draw
            self.confusion = None
        else:
            self._draw(trainer, "val")

    def on_test_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._draw(trainer, "test")

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        log_dir = trainer.log_dir  # a broadcast under DDP: every rank must ask
        validated = self.confusion is not None  # since training started
        if validated:
            self.confusion.compute()  # a gather under DDP, so every rank asks; the figure reads the result
        if trainer.is_global_zero and log_dir is not None:
            run = Path(log_dir)
            if validated:
                self._confusion_figure(trainer).savefig(run / "confusion_matrix.png", dpi=100)
            if curves := self.curves(run):
                smoothing = pl_module.hparams.get("label_smoothing", 0.0)
                self._curves_figure(curves, smoothing).savefig(run / "curves.png", dpi=100)
            plt.close("all")

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        # Stopped after its last epoch's training (a stop in the last validation waits for its end): a
        # whole run, which no resume will complete. Under DDP the stop is Lightning's, each rank's own.
        fit = trainer.state.fn == "fit" and trainer.world_size == 1
        if fit and isinstance(exception, SIGTERMException) and trained_to_its_end(trainer):
            self.on_fit_end(trainer, pl_module)

    @staticmethod
    def _pixels(trainer: L.Trainer, images: Tensor) -> Tensor:
        """Normalised images back to [0, 1] pixels."""
        dm = trainer.datamodule
        return (images.float() * dm.std + dm.mean).clamp(0, 1).cpu()

    def _start(self, pl_module: L.LightningModule) -> None:
        self.confusion = MulticlassConfusionMatrix(num_classes=10, validate_args=False).to(pl_module.device)
        self.wrong = []

    def _update(self, trainer: L.Trainer, preds: Tensor, batch: tuple[Tensor, Tensor]) -> None:
        images, labels = batch
        self.confusion.update(preds, labels)
        if len(self.wrong) < self.max_images:  # one sync per batch while the grid is not full
            miss = (preds != labels).nonzero().flatten()[: self.max_images - len(self.wrong)].cpu()
            pixels = self._pixels(trainer, images[miss])
            self.wrong += zip(pixels, labels[miss].tolist(), preds[miss].tolist(), strict=True)

    def _draw(self, trainer: L.Trainer, stage: str) -> None:
        tensorboard = tensorboard_of(trainer)
        if tensorboard is None or self.confusion is None:
            return
        self.confusion.compute()  # a gather under DDP, so every rank asks; the figure reads the result
        if not trainer.is_global_zero:  # its logger writes nothing: the figures would stay open
            return
        # The step Lightning logs the epoch's metrics at: in a fit's validation one less than global_step,
        # where the figures were one step after their scalars.
        step = trainer.fit_loop.epoch_loop._batches_that_stepped
        tensorboard.experiment.add_figure(f"{stage}/confusion_matrix", self._confusion_figure(trainer), step)
        tensorboard.experiment.add_figure(f"{stage}/misclassified", self._wrong_figure(trainer), step)

    def _confusion_figure(self, trainer: L.Trainer) -> plt.Figure:
        fig, ax = plt.subplots(figsize=(6, 6))
        self.confusion.plot(ax=ax, labels=[str(i) for i in range(10)])
        ax.set_title(f"confusion matrix, {trainer.datamodule.hparams.dataset}")
        return fig

    def _wrong_figure(self, trainer: L.Trainer) -> plt.Figure:
        # One image of the whole grid with a caption above each cell: a subplot per image with its
        # own title took 1.5-1.8 s per validation on a 2-core AVX2 CPU (tight_layout measures every
        # title), this 0.3 s.
        classes = [name.split(" - ")[0][:8] for name in trainer.datamodule.classes]  # MNIST's "7 - seven": 7
        columns, cell, gap = 6, 28, 12  # the gap above each image holds its caption
        rows = max(1, -(-len(self.wrong) // columns))
        grid = torch.ones(rows * (cell + gap), columns * (cell + 2))
        fig, ax = plt.subplots(figsize=(columns * 1.3, rows * 1.5))
        for i, (image, label, pred) in enumerate(self.wrong):
            top, left = (i // columns) * (cell + gap) + gap, (i % columns) * (cell + 2) + 1
            grid[top : top + cell, left : left + cell] = image[0]
            caption = f"{classes[label]} -> {classes[pred]}"
            ax.text(left + cell / 2, top - 2, caption, ha="center", va="bottom", fontsize=7, color="red")
        ax.imshow(grid.numpy(), cmap="gray", vmin=0, vmax=1)  # of a Tensor, numpy 2 warns (its __array__ takes no copy)
        ax.axis("off")
        fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.99)
        return fig

    @staticmethod
    def curves(run: Path) -> dict[str, list[tuple[int, float]]]:
        """(step, value) of the run's loss and accuracy per epoch, as its logger wrote them.

        TensorBoard's event files (all of them: a resumed run's curves are whole), else a
        CSVLogger's ``metrics.csv``; none for other loggers.
        """
        tags = [f"{stage}/{metric}" for metric in ("loss", "acc") for stage in ("train", "val")]
        points: dict[str, list[tuple[int, float]]] = {}
        if any(run.glob("events.out.tfevents.*")):
            events = EventAccumulator(str(run))
            # A resumed run's files hold the points its resume logged again; the reader drops the
            # older ones, as TensorBoard does, and warns of "out of order" events: by design here.
            reader_log = logging.getLogger("tensorboard")
            level = reader_log.level
            reader_log.setLevel(logging.ERROR)
            try:
                events.Reload()
            finally:
                reader_log.setLevel(level)
            logged = set(events.Tags()["scalars"])
            points = {tag: [(p.step, p.value) for p in events.Scalars(tag)] for tag in tags if tag in logged}
        elif (run / "metrics.csv").is_file():
            with open(run / "metrics.csv", newline="") as file:
                rows = list(csv.DictReader(file))
            points = {tag: [(int(row["step"]), float(row[tag])) for row in rows if row.get(tag)] for tag in tags}
        return {tag: values for tag, values in points.items() if values}

    @staticmethod
    def _curves_figure(curves: dict[str, list[tuple[int, float]]], smoothing: float = 0.0) -> plt.Figure:
        """``smoothing``: the training loss's label smoothing, named beside it: with 0.1 that loss cannot
        fall below 0.50 (the smoothed target's entropy), far above the validation's plain NLL, which
        looked like overfitting (``fast.yaml``'s first 60 steps: 0.84 against 0.18)."""
        fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(10, 4))
        for ax, metric in ((loss_ax, "loss"), (acc_ax, "acc")):
            for stage in ("train", "val"):
                tag = f"{stage}/{metric}"
                if tag in curves:
                    steps, values = zip(*curves[tag], strict=True)
                    label = f"{tag} (label smoothing {smoothing:g})" if tag == "train/loss" and smoothing else tag
                    ax.plot(steps, values, marker="o", label=label)
            ax.set_xlabel("step")
            ax.set_title(metric)
            ax.grid(alpha=0.3)
            if ax.lines:  # an empty legend is a matplotlib warning in the user's output
                ax.legend()
        fig.tight_layout()
        return fig
