"""What a fit shows: every TensorBoard tag read back with TensorBoard's own reader, and the run dir's PNGs."""

from pathlib import Path

from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


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
    grid = events.Images("train/images")[0]
    assert grid.width > 6 * 28 and grid.height > 6 * 28  # 36 images, 6 a row
    # The HPARAMS tab, scored by val/acc_best.
    assert events.SummaryMetadata("_hparams_/experiment").plugin_data.plugin_name == "hparams"
    assert b"val/acc_best" in events.SummaryMetadata("_hparams_/experiment").plugin_data.content


def test_fit_leaves_curves_and_confusion_matrix_pngs(trained_run: Path) -> None:
    for name in ("curves.png", "confusion_matrix.png"):
        with Image.open(trained_run / name) as image:
            assert image.format == "PNG" and image.width >= 500
