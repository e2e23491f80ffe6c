"""What a fit shows: every TensorBoard tag read back with TensorBoard's own reader, and the run dir's PNGs."""

import csv
import io
import re
import subprocess
import sys
import warnings
from pathlib import Path
from types import SimpleNamespace

import lightning as L
import numpy as np
import pytest
import torch
from conftest import QUICK_FIT, REPO, child_env, full_disk, run_cli, run_main
from lightning.pytorch.loggers import TensorBoardLogger
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2
from torchvision.datasets import MNIST

from mnist_pl import callbacks
from mnist_pl.callbacks import ImageLogger, PredictionWriter, _called
from mnist_pl.cli import MNISTCLI
from mnist_pl.data import MNISTDataModule
from mnist_pl.errors import UserError
from mnist_pl.files import free_path
from mnist_pl.model import MNISTClassifier
from mnist_pl.nets import LeNet

FIT = [f"--config={REPO / 'configs' / 'lenet.yaml'}", f"--data.data_dir={REPO / 'data'}", *QUICK_FIT]


def test_tensorboard_has_curves_pictures_and_hparams(trained_run: Path) -> None:
    events = EventAccumulator(str(trained_run), size_guidance={"images": 0, "tensors": 0})
    events.Reload()
    tags = events.Tags()
    assert {"train/loss_step", "train/loss", "train/acc", "val/loss", "val/acc", "val/acc_best", "lr-SGD"} <= set(
        tags["scalars"]
    )
    assert {"test/loss", "test/acc"} <= set(tags["scalars"])
    assert events.Scalars("val/acc")[-1].value > 0.9
    pictures = {
        "train/images",
        "val/confusion_matrix",
        "val/misclassified",
        "test/confusion_matrix",
        "test/misclassified",
    }
    assert pictures <= set(tags["images"])
    # Each validation's and the test's pictures at the steps of their scalars (they were one step after)
    for stage in ("val", "test"):
        steps = [event.step for event in events.Scalars(f"{stage}/acc")]
        assert [image.step for image in events.Images(f"{stage}/confusion_matrix")] == steps
        assert [image.step for image in events.Images(f"{stage}/misclassified")] == steps
    (grid,) = events.Images("train/images")  # once, at the run's first step
    assert (grid.width, grid.height) == (6 * 30 + 2, 6 * 30 + 2)  # 36 images of the batch's 64, 6 a row, 2-pixel gaps
    # The first training batch's pixels, as the data module hands them out (normalised and back: 1 level off)
    dm = MNISTDataModule(data_dir=str(REPO / "data"))
    dm.setup("fit")
    first, _ = next(iter(dm.train_dataloader()))
    shown = torch.from_numpy(np.array(Image.open(io.BytesIO(grid.encoded_image_string)))[..., 0].copy())
    cells = [shown[2 + 30 * (i // 6) : 30 + 30 * (i // 6), 2 + 30 * (i % 6) : 30 + 30 * (i % 6)] for i in range(36)]
    assert (torch.stack(cells).int() - first[:36].int()).abs().max() <= 1
    # The HPARAMS tab: the same columns in every run (TensorBoard takes one run's), scored by the
    # validation's and the test's accuracy and loss.
    assert events.SummaryMetadata("_hparams_/experiment").plugin_data.plugin_name == "hparams"
    content = events.SummaryMetadata("_hparams_/experiment").plugin_data.content
    experiment = plugin_data_pb2.HParamsPluginData.FromString(content).experiment
    columns = ["net", "optimizer", "lr", "scheduler", "label_smoothing", "batch_size", "augment", "dataset"]
    assert [info.name for info in experiment.hparam_infos] == [*columns, "max_epochs", "precision", "seed"]
    metrics = ["val/acc_best", "val/acc", "val/loss", "test/acc", "test/loss"]  # written out: not the code's own list
    assert [info.name.tag for info in experiment.metric_infos] == metrics
    content = events.SummaryMetadata("_hparams_/session_start_info").plugin_data.content
    settings = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info.hparams
    assert {k: v.string_value if v.HasField("string_value") else v.number_value for k, v in settings.items()} == {
        "net": "LeNet()",
        "optimizer": "SGD(momentum=0.9)",  # lr apart, a number to sort by
        "lr": 0.01,
        "scheduler": "none",
        "label_smoothing": 0.0,
        "batch_size": 64,  # the data's
        "augment": "none",
        "dataset": "MNIST",
        "max_epochs": 1,
        "precision": "32-true",
        "seed": 0,
    }


@pytest.mark.slow  # an edge of the default suite's checks: its time (a slower host took 302 s)
def test_the_hparams_tab_shows_an_augmented_runs_augmentation_and_smoothing(tmp_path: Path) -> None:
    augmented = ["--data.augment=mnist_pl.augment.RandomAffine", "--data.augment.degrees=5"]
    logs = f"--trainer.logger.init_args.save_dir={tmp_path}"
    cli = MNISTCLI(args=["fit", *FIT, logs, "--trainer.max_steps=1", *augmented, "--model.label_smoothing=0.1"])
    settings = callbacks.run_settings(cli.trainer, cli.model)
    assert settings["augment"] == "RandomAffine(degrees=5.0)" and settings["label_smoothing"] == 0.1


def test_a_class_in_the_hparams_tab_shows_the_arguments_it_is_given_other_than_its_defaults() -> None:
    width = {"class_path": "mnist_pl.nets.FastCNN", "init_args": {"width": 32, "hidden": 128, "num_classes": 10}}
    assert _called(width) == "FastCNN(width=32)"
    # A config's list for a tuple default (Adam's betas); the optimizer built, with its own defaults.
    adam = torch.optim.Adam(LeNet().parameters(), lr=0.02, betas=[0.9, 0.999], weight_decay=1e-4)
    built = {"class_path": type(adam), "init_args": adam.defaults}
    assert _called(built, leave_out="lr") == "Adam(weight_decay=0.0001)"
    # What a class sets itself is no setting given: every AdamW run showed Adam's decoupled_weight_decay=True,
    # which AdamW's signature lacks (an audit).
    adamw = torch.optim.AdamW(LeNet().parameters(), lr=0.02, weight_decay=0.05)
    assert _called(callbacks.as_given(adamw), leave_out="lr") == "AdamW(weight_decay=0.05)"
    assert _called(callbacks.as_given(adam), leave_out="lr") == "Adam(weight_decay=0.0001)"
    assert _called(None, LeNet()) == "LeNet"  # built in Python: no config, its class
    assert _called(None, None) == "none"
    assert _called({"class_path": "nowhere.Net", "init_args": {"width": 3}}) == "Net(width=3)"
    # A config's list for a tuple default of the app's own (a mutation audit: Adam's betas were a tuple already).
    affine = {"class_path": "mnist_pl.augment.RandomAffine", "init_args": {"degrees": 5.0, "scale": [0.9, 1.1]}}
    assert _called(affine) == "RandomAffine(degrees=5.0)"


def test_pictures_show_the_pixels_the_network_was_given() -> None:
    # The normalisation undone: with mean and std the other way round the grids were 0.32 off.
    dm = MNISTDataModule()
    pixels = torch.arange(256, dtype=torch.uint8).reshape(4, 1, 8, 8)
    shown = ImageLogger._pixels(SimpleNamespace(datamodule=dm), dm.normalize(pixels.squeeze(1)))
    assert torch.allclose(shown, pixels / 255, atol=1e-6)


def test_a_fit_starts_a_run_unless_its_logger_writes_into_the_checkpoints_run(tmp_path: Path) -> None:
    # With another kind of logger first, the TensorBoard one picks its own next version: a fit from
    # version_0's last.ckpt was taken for its resume there, and its new run got no HPARAMS or grid.
    ckpt = tmp_path / "lenet" / "version_0" / "checkpoints" / "last.ckpt"
    ckpt.parent.mkdir(parents=True)
    ckpt.touch()
    assert ImageLogger.starts_a_run(TensorBoardLogger(tmp_path, name="lenet"), str(ckpt))  # version_1
    assert not ImageLogger.starts_a_run(TensorBoardLogger(tmp_path, name="lenet", version=0), str(ckpt))
    assert not ImageLogger.starts_a_run(TensorBoardLogger(tmp_path, "lenet", version=0, sub_dir="a"), str(ckpt))
    assert ImageLogger.starts_a_run(TensorBoardLogger(tmp_path, name="lenet", version=0), None)


def test_a_predictions_csv_is_never_written_over(tmp_path: Path) -> None:
    for name in ("p.csv", "p-1.csv"):
        (tmp_path / name).write_text("an earlier predict's")
    assert free_path(tmp_path / "p.csv") == tmp_path / "p-2.csv"
    # A link to nowhere holds its name too: taken for free, the CSV's link onto it failed forever.
    (tmp_path / "q.csv").symlink_to(tmp_path / "nowhere")
    assert free_path(tmp_path / "q.csv") == tmp_path / "q-1.csv"


def test_fit_leaves_curves_and_confusion_matrix_pngs(trained_run: Path, tmp_path: Path) -> None:
    for name in ("curves.png", "confusion_matrix.png"):
        with Image.open(trained_run / name) as image:
            assert image.format == "PNG" and image.width >= 500
    curves = ImageLogger.curves(trained_run)
    assert set(curves) == {"train/loss", "train/acc", "val/loss", "val/acc"}
    assert all(len(points) == 1 for points in curves.values())  # one epoch
    # Each picture is what its figure draws of the run: the curves logged, the last validation's counts
    # (of last.ckpt's weights, validated again on the fit's 2 batches).
    pictures = ImageLogger()
    quiet = {"enable_progress_bar": False, "enable_model_summary": False}
    trainer = L.Trainer(limit_val_batches=2, logger=TensorBoardLogger(tmp_path), callbacks=[pictures], **quiet)
    model = MNISTClassifier.load_from_checkpoint(trained_run / "checkpoints" / "last.ckpt")
    trainer.validate(model, datamodule=MNISTDataModule(data_dir=str(REPO / "data")))
    drawn = {
        "curves.png": ImageLogger._curves_figure(curves),
        "confusion_matrix.png": pictures._confusion_figure(trainer),
    }
    for name, figure in drawn.items():
        figure.savefig(tmp_path / name, dpi=100)
        with Image.open(trained_run / name) as saved, Image.open(tmp_path / name) as expected:
            assert np.array_equal(np.asarray(saved), np.asarray(expected)), name


def test_the_grid_holds_max_images_at_most_and_a_fit_leaves_no_figure_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An untrained network gets most of a batch wrong: the grid took the whole batch past its max (23 images of
    3), and each fit left its two figures open, a leak in a notebook's loop of fits (a mutation audit). The fit's
    label smoothing is in its curves (a test audit: none read it)."""
    import matplotlib.pyplot as plt

    drawn = ImageLogger._curves_figure
    smoothings = []

    def curves_figure(curves: dict, smoothing: float) -> object:
        smoothings.append(smoothing)
        return drawn(curves, smoothing)

    monkeypatch.setattr(ImageLogger, "_curves_figure", staticmethod(curves_figure))

    L.seed_everything(0, verbose=False)
    pictures = ImageLogger(max_images=3)
    quiet = {"enable_progress_bar": False, "enable_model_summary": False, "num_sanity_val_steps": 0}
    trainer = L.Trainer(
        logger=TensorBoardLogger(tmp_path),
        callbacks=[pictures],
        max_epochs=1,
        limit_train_batches=2,
        limit_val_batches=1,
        **quiet,
    )
    model = MNISTClassifier(LeNet(), label_smoothing=0.1)
    trainer.fit(model, datamodule=MNISTDataModule(data_dir=str(REPO / "data"), eval_batch_size=50))
    assert len(pictures.wrong) == 3 and plt.get_fignums() == [] and smoothings == [0.1]


def test_a_validation_with_nothing_wrong_draws_an_empty_grid() -> None:
    """A good model on a few batches gets all right: a grid of no rows was a figure of height 0, and TensorBoard's
    writer ended the fit in a ValueError traceback (a mutation audit)."""
    pictures = ImageLogger()
    figure = pictures._wrong_figure(SimpleNamespace(datamodule=MNISTDataModule()))
    assert min(figure.get_size_inches()) > 0
    figure.canvas.draw()  # what add_figure does first


def test_predictions_are_gathered_on_rank_zero_alone_each_image_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """With fewer images than ranks, some are predicted twice; the other ranks wrote copies of the CSV (a mutation
    audit: 2 ranks on one host wrote the same file, 3 or more one each)."""

    def gather(shards: list, mine: tuple) -> None:
        shards[:] = [([2, 0], torch.tensor([[0.2], [0.0]])), ([1, 2], torch.tensor([[0.1], [0.2]]))]

    monkeypatch.setattr(torch.distributed, "all_gather_object", gather)
    mine = ([2, 0], torch.tensor([[0.2], [0.0]]))
    assert PredictionWriter._gathered(SimpleNamespace(world_size=2, is_global_zero=False), *mine) is None
    indices, probs = PredictionWriter._gathered(SimpleNamespace(world_size=2, is_global_zero=True), *mine)
    assert indices == [0, 1, 2] and torch.equal(probs, torch.tensor([[0.0], [0.1], [0.2]]))


def test_the_pictures_show_what_the_model_got_wrong(trained_run: Path, tmp_path: Path) -> None:
    """The confusion matrix counts each (label, prediction) of the validation, the misclassified grid holds the
    images the model got wrong, in order, with their true and predicted classes."""
    model = MNISTClassifier.load_from_checkpoint(trained_run / "checkpoints" / "best.ckpt")
    dm = MNISTDataModule(data_dir=str(REPO / "data"), eval_batch_size=500)
    pictures = ImageLogger(max_images=1000)
    quiet = {"enable_progress_bar": False, "enable_model_summary": False}
    trainer = L.Trainer(limit_val_batches=2, logger=TensorBoardLogger(tmp_path), callbacks=[pictures], **quiet)
    for _ in range(2):  # each validation's pictures its own, not the ones before added to them
        trainer.validate(model, datamodule=dm)
    loader = iter(dm.val_dataloader())
    images, labels = (torch.cat(parts) for parts in zip(*(next(loader) for _ in range(2)), strict=True))
    with torch.no_grad():
        preds = model(dm.normalize(images)).argmax(dim=1)
    expected = torch.bincount(labels * 10 + preds, minlength=100).reshape(10, 10)  # rows: labels
    assert torch.equal(pictures.confusion.compute(), expected)
    # The figure TensorBoard gets: rows the true classes 0 to 9, top down, columns the predicted ones.
    ax = pictures._confusion_figure(trainer).axes[0]
    assert (ax.get_ylabel(), ax.get_xlabel()) == ("True class", "Predicted class")
    digits = [str(i) for i in range(10)]
    assert [t.get_text() for t in ax.get_yticklabels()] == [t.get_text() for t in ax.get_xticklabels()] == digits
    assert torch.equal(torch.as_tensor(np.asarray(ax.images[0].get_array())), expected)
    assert expected.trace() / 1000 == pytest.approx(trainer.callback_metrics["val/acc"].item())
    wrong = (preds != labels).nonzero().flatten()
    assert 0 < len(wrong) < 200  # a trained model, not a perfect one
    assert [(label, pred) for _, label, pred in pictures.wrong] == list(
        zip(labels[wrong].tolist(), preds[wrong].tolist(), strict=True)
    )
    shown = torch.stack([pixels for pixels, _, _ in pictures.wrong])
    assert torch.allclose(shown, images[wrong].unsqueeze(1) / 255, atol=1e-5)
    # The figure TensorBoard gets: each image in its cell of the grid, 6 a row, its caption "label -> prediction"
    ax = pictures._wrong_figure(trainer).axes[0]
    assert [text.get_text() for text in ax.texts] == [f"{label} -> {pred}" for _, label, pred in pictures.wrong]
    grid = torch.from_numpy(np.asarray(ax.images[0].get_array()))
    cells = [
        grid[12 + 40 * (i // 6) : 40 + 40 * (i // 6), 1 + 30 * (i % 6) : 29 + 30 * (i % 6)] for i in range(len(wrong))
    ]
    assert torch.allclose(torch.stack(cells), shown.squeeze(1), atol=1e-5)


def test_curves_of_a_csv_logged_fit_come_from_its_metrics_csv(tmp_path: Path) -> None:
    csv_logger = ["--trainer.logger=lightning.pytorch.loggers.CSVLogger", "--trainer.max_epochs=2"]
    fit = run_main("fit", *FIT, *csv_logger, "--trainer.limit_train_batches=10", "--test_after_fit=false", cwd=tmp_path)
    assert fit.returncode == 0, fit.stderr[-3000:]
    run = tmp_path / "logs" / "lenet" / "version_0"
    with open(run / "metrics.csv", newline="") as file:
        val_acc = [(int(row["step"]), float(row["val/acc"])) for row in csv.DictReader(file) if row["val/acc"]]
    curves = ImageLogger.curves(run)
    assert curves["val/acc"] == val_acc and [step for step, _ in val_acc] == [9, 19]
    assert set(curves) == {"train/loss", "train/acc", "val/loss", "val/acc"}
    with Image.open(run / "curves.png") as image:
        assert image.format == "PNG"


def test_a_fit_that_stops_before_validating_draws_no_sanity_check(tmp_path: Path) -> None:
    # The sanity check's two batches of the untrained network are not the run's last validation.
    fit = run_main("fit", *FIT, "--trainer.max_steps=5", cwd=tmp_path)
    assert fit.returncode == 0, fit.stderr[-3000:]
    run = tmp_path / "logs" / "lenet" / "version_0"
    assert not (run / "confusion_matrix.png").exists()
    assert (run / "curves.png").is_file()  # the training's curves (none were drawn without a validation)
    events = EventAccumulator(str(run), size_guidance={"images": 0})
    events.Reload()
    assert "val/confusion_matrix" not in events.Tags()["images"]
    assert "test/confusion_matrix" in events.Tags()["images"]  # the test after fit draws its own


def test_curves_name_the_training_losss_label_smoothing() -> None:
    # Smoothed, the training loss stays above 0.50 while the validation's NLL falls below: not overfitting.
    curves = {"train/loss": [(9, 0.84), (19, 0.6)], "val/loss": [(9, 0.18), (19, 0.12)]}
    accuracy = {"train/acc": [(9, 0.8), (19, 0.9)], "val/acc": [(9, 0.95), (19, 0.97)]}
    (loss_ax, acc_ax) = ImageLogger._curves_figure(curves | accuracy, 0.1).axes
    assert loss_ax.get_legend_handles_labels()[1] == ["train/loss (label smoothing 0.1)", "val/loss"]
    assert [line.get_xydata().tolist() for line in loss_ax.lines] == [[[9, 0.84], [19, 0.6]], [[9, 0.18], [19, 0.12]]]
    # The accuracy panel (its curves went unchecked: a test audit)
    assert acc_ax.get_legend_handles_labels()[1] == ["train/acc", "val/acc"]
    assert [line.get_xydata().tolist() for line in acc_ax.lines] == [[[9, 0.8], [19, 0.9]], [[9, 0.95], [19, 0.97]]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no accuracy logged: no empty legend, which matplotlib warns about
        (loss_ax, acc_ax) = ImageLogger._curves_figure(curves).axes
    assert loss_ax.get_legend_handles_labels()[1] == ["train/loss", "val/loss"] and acc_ax.get_legend() is None


@pytest.mark.slow  # a fit with Lightning's LR finder before it: an optional callback
def test_an_lr_finder_that_only_finds_says_its_lr_and_plots_it(tmp_path: Path) -> None:
    # Lightning's LearningRateFinder with update_attr false kept its finding to itself.
    finder = ["--trainer.callbacks+=LearningRateFinder", "--trainer.callbacks.update_attr=false"]
    finder += ["--trainer.callbacks.num_training_steps=30", "--trainer.callbacks.max_lr=1.0"]
    fit = run_main("fit", *FIT, "--trainer.max_steps=1", *finder, cwd=tmp_path)
    assert fit.returncode == 0, fit.stderr[-3000:]
    run = tmp_path / "logs" / "lenet" / "version_0"
    said = re.search(r"note: LearningRateFinder suggests lr (\S+) \(its curve: (\S+)\): give --model", fit.stderr)
    assert said and 1e-8 <= float(said[1]) <= 1.0 and said[2] == str(Path("logs", "lenet", "version_0", "lr_find.png"))
    assert Image.open(run / "lr_find.png").size == (640, 480)
    assert f"give --model.optimizer.init_args.lr {said[1]} to train at it" in fit.stderr
    # Resumed, its finder runs again: its curve beside the run's first, not over it.
    first = (run / "lr_find.png").read_bytes()
    more = ["--trainer.max_epochs=2", "--trainer.limit_train_batches=2", "--ckpt_path=last"]
    resumed = run_main("fit", *FIT, *finder, *more, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert (run / "lr_find.png").read_bytes() == first and (run / "lr_find-1.png").is_file()


@pytest.mark.slow  # two fits with Lightning's LR finder: an optional callback
def test_an_lr_finder_says_where_its_lr_goes_and_when_it_found_none(tmp_path: Path) -> None:
    """An audit: before a one-cycle schedule (fast.yaml, best.yaml) the lr suggested went to the optimizer, whose
    lr the schedule replaces by its max_lr; cut short by an epoch of fewer batches than its steps, it suggested
    one of the lowest lrs it tried, 3.31e-07 (Lightning said "diverging loss")."""
    finder = ["--trainer.callbacks+=LearningRateFinder", "--trainer.callbacks.update_attr=false"]
    finder += ["--trainer.callbacks.num_training_steps=30", "--trainer.callbacks.max_lr=1.0"]
    one_cycle = ["--model.scheduler=torch.optim.lr_scheduler.OneCycleLR", "--model.scheduler.max_lr=0.05"]
    fit = run_cli("fit", *FIT, "--trainer.max_steps=1", *finder, *one_cycle, cwd=tmp_path)  # Lightning's logging too
    assert fit.returncode == 0, fit.stderr[-3000:]
    said = re.search(r"note: LearningRateFinder suggests lr (\S+) \(its curve: \S+\): (.*)", fit.stderr)
    assert said and said[2] == f"give --model.scheduler.init_args.max_lr {said[1]} (the one-cycle schedule's peak lr)"
    # Lightning's lines of its finder's own checkpoint: "`weights_only` was not set", "Restored all states from the
    # checkpoint at .../.lr_find_<uuid>.ckpt" (twice), which no user gave.
    assert ".lr_find_" not in fit.stdout + fit.stderr and "weights_only" not in fit.stdout + fit.stderr
    short = run_main("fit", *FIT, "--trainer.max_epochs=1", "--trainer.limit_train_batches=5", *finder, cwd=tmp_path)
    assert short.returncode == 0, short.stderr[-3000:]
    said = re.search(r"note: LearningRateFinder (.*?) \(its curve: \S+\): (.*)", short.stderr)
    assert said and re.fullmatch(
        r"found no lr: the fit's epochs \(5 batches\) ended its 30 steps, at lr \S+ of the 1 they "
        r"would reach",
        said[1],
    ), short.stderr[-2000:]
    assert said[2] == "give --trainer.callbacks.num_training_steps 5 (or more batches an epoch)"


@pytest.mark.slow  # two fits with Lightning's LR finder
def test_an_lr_finder_leaves_the_first_epochs_order_to_data_workers(tmp_path: Path) -> None:
    """The finder's checkpoint, written before any epoch, said a resume goes on in epoch 1: restored from it,
    the data made its workers fetch epoch 1's order, and epoch 0 trained in it (as without workers: epoch 0's)."""
    finder = ["--trainer.callbacks+=LearningRateFinder", "--trainer.callbacks.update_attr=false"]
    finder += ["--trainer.callbacks.num_training_steps=5", "--trainer.callbacks.max_lr=1.0"]
    seen = {}
    for workers in (0, 1):
        record = [
            "--trainer.callbacks+=batch_recorder.BatchRecorder",
            f"--trainer.callbacks.out_dir={tmp_path / str(workers)}",
        ]
        short = ["--trainer.max_epochs=1", "--trainer.limit_train_batches=3", f"--data.num_workers={workers}"]
        fit = run_main("fit", *FIT, *finder, *record, *short, cwd=tmp_path)
        assert fit.returncode == 0, fit.stderr[-3000:]
        seen[workers] = (tmp_path / str(workers) / "rank0.txt").read_text().split()
    assert len(seen[0]) == 3 * 64 and seen[1] == seen[0]


@pytest.mark.slow  # one more fit, of an edge of the step logging
def test_no_step_values_with_log_every_n_steps_0(tmp_path: Path) -> None:
    fit = run_main("fit", *FIT, "--trainer.limit_train_batches=20", "--trainer.log_every_n_steps=0", cwd=tmp_path)
    assert fit.returncode == 0, fit.stderr[-3000:]
    events = EventAccumulator(str(tmp_path / "logs" / "lenet" / "version_0"))
    events.Reload()
    scalars = set(events.Tags()["scalars"])
    assert "train/loss" in scalars and "val/acc" in scalars
    assert "train/loss_step" not in scalars


def test_a_predictions_csv_written_meanwhile_by_another_predict_is_kept(
    trained_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The free name was taken before predicting and renamed onto at the end, over what another
    # predict had written there in between.
    out = tmp_path / "predictions.csv"

    def taken_meanwhile(path: Path) -> Path:
        free = free_path(path)
        if not out.exists():
            out.write_text("the other predict's")
        return free

    monkeypatch.setattr(callbacks, "free_path", taken_meanwhile)
    args = [f"--ckpt_path={trained_run / 'checkpoints' / 'best.ckpt'}", f"--data.data_dir={REPO / 'data'}"]
    limits = ["--trainer.limit_predict_batches=1", f"--trainer.logger.init_args.save_dir={tmp_path}"]
    MNISTCLI(args=["predict", *args, *limits, f"--predictions.output={out}", "--predictions.show=0"])
    assert out.read_text() == "the other predict's"
    assert len((tmp_path / "predictions-1.csv").read_text().splitlines()) == 1 + 1000
    assert not list(tmp_path.glob(".*.tmp"))


class StopAtThePredictsEnd(L.Callback):
    """Ctrl-C after the CSV is written, before the predict ends (as the progress bar closes)."""

    def on_predict_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        raise KeyboardInterrupt


def test_a_predict_stopped_after_its_csv_was_written_leaves_none(trained_run: Path, tmp_path: Path) -> None:
    # Its last line says "with no results": a CSV left behind would be one no line named.
    out = tmp_path / "predictions.csv"
    args = [f"--ckpt_path={trained_run / 'checkpoints' / 'best.ckpt'}", f"--data.data_dir={REPO / 'data'}"]
    limits = ["--trainer.limit_predict_batches=1", f"--trainer.logger.init_args.save_dir={tmp_path}"]
    with pytest.raises(UserError, match=r"^predict: stopped by Ctrl-C before it ended, with no results"):
        MNISTCLI(
            args=["predict", *args, *limits, f"--predictions.output={out}"],
            trainer_defaults={"callbacks": [StopAtThePredictsEnd()]},
        )
    assert not out.exists() and not list(tmp_path.glob(".*.tmp"))


@pytest.mark.slow  # a process of its own (its files' size limited): the default suite's time
def test_a_predict_onto_a_full_disk_is_one_line(trained_run: Path, tmp_path: Path) -> None:
    """Its CSV written onto a full disk (an audit, a full 1 MB tmpfs): a 64-line traceback."""
    out = tmp_path / "new" / "p.csv"
    args = [f"--ckpt_path={trained_run / 'checkpoints' / 'best.ckpt'}", f"--data.data_dir={REPO / 'data'}"]
    args += ["--trainer.limit_predict_batches=1", "--data.eval_batch_size=1000", "--trainer.logger=false"]
    args.append(f"--predictions.output={out}")
    written = run_main("predict", *args, cwd=tmp_path)  # 1,000 rows, 106 kB
    assert written.returncode == 0 and written.stdout.splitlines()[-1] == (
        f"1,000 predictions (990 more) written to {out}"  # was "1000 predictions (990 more)", beside "1,000 of"
    ), written.stderr[-3000:]
    out.unlink()
    command = [sys.executable, "-m", "mnist_pl", "predict", *args]
    result = subprocess.run(
        command, cwd=tmp_path, env=child_env(), capture_output=True, text=True, timeout=600, preexec_fn=full_disk(2**14)
    )
    assert result.returncode == 1 and result.stderr.strip().splitlines()[-1] == (
        f"error: {out}: cannot be written (File too large): give another --predictions.output"
    ), result.stderr[-3000:]
    assert list(out.parent.iterdir()) == []


def test_predict_limited_to_some_batches_writes_their_rows(trained_run: Path, tmp_path: Path) -> None:
    ckpt = trained_run / "checkpoints" / "best.ckpt"
    out = tmp_path / "predictions.csv"
    args = [f"--ckpt_path={ckpt}", f"--data.data_dir={REPO / 'data'}", "--data.eval_batch_size=50"]
    # On the CPU, as the reference below: a GPU's fp32 convolutions run in TF32 (PyTorch's default), 1e-3 off.
    limits = ["--trainer.limit_predict_batches=2", f"--trainer.logger.init_args.save_dir={tmp_path}"]
    limits.append("--trainer.accelerator=cpu")
    # --predictions.show 0: no rows printed (it ended in a traceback after writing the CSV).
    result = run_main("predict", *args, *limits, f"--predictions.output={out}", "--predictions.show=0", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    # The last line, after the progress bar's: the bar, closed after it, was drawn again below it (an audit).
    assert result.stdout.splitlines()[-1] == f"100 predictions written to {out}"
    assert "predicted     confidence" not in result.stdout
    # Lightning's logger opens an event file at every stage: a predict's holds nothing, and TensorBoard listed it
    # as a run (a mutation audit).
    predicted = tmp_path / "mnist" / "version_0"  # the run of a checkpoint without its config: a new one
    assert (predicted / "config.yaml").is_file() and not list(predicted.glob("events.out.tfevents.*"))
    # Shown, the test split's rows have its true class beside the predicted one.
    shown = run_main("predict", *args, *limits, f"--predictions.output={out}", "--predictions.show=2", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr[-3000:]
    table = shown.stdout.splitlines()
    head = table.index("image    true class    predicted     confidence")
    assert [line.split("  ")[:2] for line in table[head + 1 : head + 3]] == [
        ["test[0]", "7 - seven"],
        ["test[1]", "2 - two"],
    ]
    with open(out, newline="") as file:
        rows = list(csv.DictReader(file))
    labels = MNIST(str(REPO / "data"), train=False).targets[:100].tolist()
    assert [row["file"] for row in rows] == [f"test[{i}]" for i in range(100)]
    assert [int(row["label"]) for row in rows] == labels
    right = sum(row["predicted"] == row["label"] for row in rows)
    assert right > 90  # a trained network, not chance
    assert f"accuracy {right / 100:.2%} ({right} of 100 labelled images)" in shown.stdout.splitlines()
    # p0..p9 are the checkpoint's probabilities of the classes 0..9; predicted and confidence are their top one.
    dm = MNISTDataModule(data_dir=str(REPO / "data"))
    dm.setup("test")
    model = MNISTClassifier.load_from_checkpoint(ckpt, map_location="cpu", weights_only=True).eval()
    with torch.no_grad():
        probs = model(dm.normalize(dm.test_set.images[:100])).exp()
    written = torch.tensor([[float(row[f"p{i}"]) for i in range(10)] for row in rows])
    assert torch.allclose(written, probs, atol=1e-4)
    assert [int(row["predicted"]) for row in rows] == probs.argmax(1).tolist()
    assert torch.allclose(torch.tensor([float(row["confidence"]) for row in rows]), probs.max(1).values, atol=1e-4)


def test_predict_reads_and_writes_tilde_paths_in_the_home_folder(
    trained_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--ckpt_path=~/...`` (no shell expands ~ after "=") was "no such file"; ``--predictions.output=~/p.csv``
    was written into a folder named "~" in the current one."""
    home, here = tmp_path / "home", tmp_path / "here"
    home.mkdir(), here.mkdir()
    (home / "best.ckpt").write_bytes((trained_run / "checkpoints" / "best.ckpt").read_bytes())
    monkeypatch.setenv("HOME", str(home))
    args = ["--ckpt_path=~/best.ckpt", "--predictions.output=~/p.csv", "--trainer.limit_predict_batches=1"]
    logs = f"--trainer.logger.init_args.save_dir={home / 'logs'}"
    result = run_main("predict", *args, f"--data.data_dir={REPO / 'data'}", logs, cwd=here)
    assert result.returncode == 0, result.stderr[-3000:]
    assert len((home / "p.csv").read_text().splitlines()) == 1001 and list(here.iterdir()) == []


def test_a_predictions_csv_named_in_capitals_is_taken(tmp_path: Path) -> None:
    """A CSV is a CSV by any case of its suffix (a mutation audit: nothing checked that P.CSV is taken)."""
    writer = PredictionWriter(output=str(tmp_path / "P.CSV"))
    writer.setup(L.Trainer(logger=False, enable_progress_bar=False), MNISTClassifier(LeNet()), "predict")
    assert writer.output == tmp_path / "P.CSV"


@pytest.mark.slow  # an edge of the default suite's checks: its time (the suite neared 5 minutes)
def test_predict_into_a_folder_that_is_a_file_stops_before_predicting(trained_run: Path, tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("a file")
    ckpt = trained_run / "checkpoints" / "best.ckpt"
    logs = f"--trainer.logger.init_args.save_dir={tmp_path}"
    args = [f"--ckpt_path={ckpt}", f"--data.data_dir={REPO / 'data'}", logs]
    result = run_main("predict", *args, f"--predictions.output={tmp_path / 'taken' / 'p.csv'}", cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    last = result.stderr.strip().splitlines()[-1]
    output, taken = tmp_path / "taken" / "p.csv", tmp_path / "taken"
    assert last == f"error: --predictions.output {output}: {taken} is a file, not a folder: give another path"
    assert list(tmp_path.glob("mnist/version_*")) == []  # its run dir given back
    # A folder given for the file: it wrote the CSV beside it, as "<folder>-1".
    folder = tmp_path / "folder"
    folder.mkdir()
    result = run_main("predict", *args, f"--predictions.output={folder}", cwd=tmp_path)
    expected = f"--predictions.output {folder} is a folder: give a file name, e.g. {folder / 'predictions.csv'}"
    assert result.stderr.strip().splitlines()[-1] == f"error: {expected}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder", "taken"] and not any(folder.iterdir())
    # Another kind of file's name: the CSV's rows went into one-1.jpg.
    result = run_main("predict", *args, f"--predictions.output={tmp_path / 'one.jpg'}", cwd=tmp_path)
    expected = f"--predictions.output {tmp_path / 'one.jpg'}: the predictions are a CSV: give a name ending in .csv"
    assert result.stderr.strip().splitlines()[-1] == f"error: {expected}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder", "taken"]
    # An empty one: "--predictions.output . is a folder" (an audit); "." is one.
    for given, expected in (
        ("", "--predictions.output is empty: give a file name, e.g. predictions.csv"),
        (".", "--predictions.output . is a folder: give a file name, e.g. predictions.csv"),
    ):
        result = run_main("predict", *args, f"--predictions.output={given}", cwd=tmp_path)
        assert result.stderr.strip().splitlines()[-1] == f"error: {expected}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder", "taken"]


@pytest.mark.slow  # one more fit, of a Lightning callback the app only has to pass on
def test_lightnings_weight_averaging_trains_and_its_config_runs_again(tmp_path: Path) -> None:
    """SWA copies the model: it failed on the module objects our --help texts kept in the parser
    ("cannot pickle 'module' object"), and its device default went into config.yaml as
    "Unable to serialize instance cpu", a traceback when the run's config was given again."""
    swa = ["--trainer.callbacks+=StochasticWeightAveraging", "--trainer.callbacks.swa_lrs=0.005"]
    args = [*FIT, f"--trainer.logger.init_args.save_dir={tmp_path}", "--trainer.limit_train_batches=5", *swa]
    result = run_main("fit", *args, "--trainer.max_epochs=2", "--test_after_fit=false", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Unable to serialize" not in result.stderr
    (config,) = tmp_path.glob("*/version_0/config.yaml")
    assert "      device: cpu\n" in config.read_text()
    again = run_main("fit", f"--config={config}", "--trainer.max_epochs=1", cwd=tmp_path)
    assert again.returncode == 0 and "Run saved in" in again.stdout, again.stderr[-3000:]


def test_a_diverged_fits_flag_is_not_a_later_stages(tmp_path: Path) -> None:
    """On an accelerator the divergence check keeps a device flag; a Trainer used again from Python (a validate
    after a fit that diverged) read the old flag and said "training diverged" (a review)."""
    from mnist_pl.data import MNISTDataModule
    from mnist_pl.model import MNISTClassifier
    from mnist_pl.nets import MinimalCNN

    stop = callbacks.StopOnNonFiniteLoss()
    stop._bad = torch.ones((), dtype=torch.bool)  # as a diverged fit on a GPU left it
    quiet = {"enable_progress_bar": False, "enable_model_summary": False, "logger": False}
    trainer = L.Trainer(limit_val_batches=1, callbacks=[stop], default_root_dir=tmp_path, **quiet)
    trainer.validate(MNISTClassifier(MinimalCNN()), datamodule=MNISTDataModule(data_dir=str(REPO / "data")))
