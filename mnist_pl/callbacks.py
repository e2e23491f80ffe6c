"""What is checked around training: a run whose loss stops being finite ends at once, with one line."""

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback
from torch import Tensor

from mnist_pl.errors import UserError


class DivergenceError(UserError):
    """The training loss became NaN or infinite."""


class StopOnNonFiniteLoss(Callback):
    """End ``fit`` at the first non-finite training loss, before a checkpoint of broken weights is written.

    Raising inside ``on_train_batch_end`` stops Lightning before the epoch's validation, so
    ``ModelCheckpoint`` never saves the NaN weights: ``best.ckpt`` and ``last.ckpt`` stay those of
    the last good epoch.

    Reading the loss is a host sync. On a CPU it is free, so every step is checked. On an
    accelerator the check is folded into a device-side flag every step (no sync) and the flag is
    read only on the steps the logger writes (``trainer.log_every_n_steps``), which already sync;
    the run then stops at most that many steps after the first bad one.
    """

    def __init__(self) -> None:
        self._bad: Tensor | None = None  # on an accelerator: has any loss since the last check been non-finite

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: dict, batch: object, batch_idx: int
    ) -> None:
        loss = outputs["loss"].detach()
        step = trainer.global_step
        if loss.device.type == "cpu":
            if not torch.isfinite(loss):
                self._fail(trainer, f"{loss.item()} at step {step}")
            return
        bad = ~torch.isfinite(loss)
        if self._bad is None:
            self._bad = torch.zeros((), dtype=torch.bool, device=loss.device)
        self._bad |= bad
        if step % trainer.log_every_n_steps == 0 and self._bad.item():
            self._fail(trainer, f"not finite by step {step}")

    @staticmethod
    def _fail(trainer: L.Trainer, where: str) -> None:
        lr = trainer.optimizers[0].param_groups[0]["lr"] if trainer.optimizers else float("nan")
        raise DivergenceError(
            f"training diverged: the loss is {where} (epoch {trainer.current_epoch}, lr {lr:g}), "
            "no checkpoint was written for it: "
            "lower --model.optimizer.init_args.lr and run again"
        )
