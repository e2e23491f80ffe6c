"""The LightningModule: what is learned and how it is measured; the network itself lives in nets."""

import lightning as L
import torch
import torch.nn.functional as F
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor, nn
from torchmetrics import MaxMetric
from torchmetrics.classification import MulticlassAccuracy


class MNISTClassifier(L.LightningModule):
    """Trains any 10-class network with log-softmax + NLL loss and reports accuracy per stage.

    Args:
        net: the network, chosen in config by ``class_path``.
        optimizer: called with the parameters; SGD, Adam, ... and their settings come from config.
        scheduler: optional; called with the optimizer, stepped once per epoch unless it is a
            ``OneCycleLR`` (stepped per batch, as that schedule is defined).
    """

    def __init__(
        self,
        net: nn.Module,
        optimizer: OptimizerCallable = torch.optim.Adam,
        scheduler: LRSchedulerCallable | None = None,
    ) -> None:
        super().__init__()
        # LightningCLI stores the config (class paths and arguments) as hparams, so a checkpoint
        # alone rebuilds this module, network included.
        self.save_hyperparameters()
        self.net = net
        self.optimizer = optimizer
        self.scheduler = scheduler
        # micro: the fraction of images right (torchmetrics' default, macro, averages per class).
        self.train_acc = MulticlassAccuracy(num_classes=10, average="micro")
        self.val_acc = MulticlassAccuracy(num_classes=10, average="micro")
        self.test_acc = MulticlassAccuracy(num_classes=10, average="micro")
        self.val_acc_best = MaxMetric()

    def forward(self, images: Tensor) -> Tensor:
        """Log-probabilities of the 10 classes."""
        return F.log_softmax(self.net(images), dim=1)

    def model_step(self, batch: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        images, labels = batch
        log_probs = self(images)
        return F.nll_loss(log_probs, labels), log_probs.argmax(dim=1), labels

    def on_train_start(self) -> None:
        # The sanity check ran validation already; it must not count towards val/acc_best.
        self.val_acc.reset()
        self.val_acc_best.reset()

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        loss, preds, labels = self.model_step(batch)
        self.train_acc(preds, labels)
        self.log("train/loss", loss, on_step=True, on_epoch=True, prog_bar=True)
        self.log("train/acc", self.train_acc, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        loss, preds, labels = self.model_step(batch)
        self.val_acc(preds, labels)
        self.log("val/loss", loss, prog_bar=True)
        self.log("val/acc", self.val_acc, prog_bar=True)

    def on_validation_epoch_end(self) -> None:
        self.val_acc_best(self.val_acc.compute())
        self.log("val/acc_best", self.val_acc_best.compute(), prog_bar=True)

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        loss, preds, labels = self.model_step(batch)
        self.test_acc(preds, labels)
        self.log("test/loss", loss)
        self.log("test/acc", self.test_acc)

    def predict_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        """The predicted digit of each image."""
        images, _ = batch
        return self(images).argmax(dim=1)

    def configure_optimizers(self) -> dict:
        optimizer = self.optimizer(self.parameters())
        if self.scheduler is None:
            return {"optimizer": optimizer}
        scheduler = self.scheduler(optimizer)
        interval = "step" if isinstance(scheduler, torch.optim.lr_scheduler.OneCycleLR) else "epoch"
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": interval}}
