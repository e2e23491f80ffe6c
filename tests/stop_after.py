"""A callback that stops a fit after a given step, as Lightning's Timer does at --trainer.max_time."""

import lightning as L


class StopAfter(L.Callback):
    def __init__(self, steps: int) -> None:
        self.steps = steps

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx: int):
        if trainer.global_step >= self.steps:
            trainer.should_stop = True
