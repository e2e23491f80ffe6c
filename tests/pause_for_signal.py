"""A callback that holds a fit at a known batch until the test has signalled it, so the signal lands there.

It pauses once: the marker file it leaves keeps a resumed run (whose saved config lists it) from pausing.
"""

import os
import signal
import subprocess
import time
from pathlib import Path

import lightning as L


class PauseForSignal(L.Callback):
    """``until_interrupted``: hold on after a first Ctrl-C, which only sets Lightning's SIGTERM flag, until a second."""

    def __init__(
        self, epoch: int, batch: int, marker: str, stage: str = "train", until_interrupted: bool = False
    ) -> None:
        self.epoch, self.batch, self.marker, self.stage = epoch, batch, Path(marker), stage
        self.until_interrupted = until_interrupted
        if stage == "built" and not self.marker.exists():  # as the CLI builds its classes, before any stage
            self.marker.write_text("paused")
            time.sleep(60)  # a Ctrl-C raises KeyboardInterrupt inside it
        # Lightning's second DDP process as it builds its classes, rank 0 waiting for it in torch's rendezvous: held
        # until its process group gets the signal, which this process may ignore; a process of the system's own
        # handlers in the group dies of it.
        if stage == "rank 1 built" and os.environ.get("LOCAL_RANK") == "1" and not self.marker.exists():
            signalled = subprocess.Popen(["sleep", "60"], preexec_fn=_system_handlers)
            self.marker.write_text("paused")
            signalled.wait()

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx: int
    ) -> None:
        if self.stage == "train":
            self._pause(trainer, batch_idx)
        elif self.stage == "after batch hooks" and (trainer.current_epoch, batch_idx) == (self.epoch, self.batch):
            # After every hook of the batch (the run's checkpoint's last), before Lightning looks for a stop:
            # in its step schedules' update.
            loop = trainer.fit_loop.epoch_loop
            update = loop.update_lr_schedulers

            def paused(*args: object, **kwargs: object) -> None:
                del loop.update_lr_schedulers  # once
                self._pause(trainer, batch_idx)
                update(*args, **kwargs)

            loop.update_lr_schedulers = paused

    def on_validation_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        # A fit's validation, or its sanity check (Lightning's handlers in place, no step yet).
        if self.stage == ("sanity check" if trainer.sanity_checking else "validate"):
            self._pause(trainer, batch_idx)

    def on_test_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        if self.stage == "test":
            self._pause(trainer, batch_idx)

    def on_predict_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        if self.stage == "predict":
            self._pause(trainer, batch_idx)

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch, batch_idx: int) -> None:
        if self.stage == "before train":  # before the batch's step
            self._pause(trainer, batch_idx)

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.stage == "fit end":  # its on_fit_end first, before the run's pictures are drawn
            trainer.callbacks.remove(self)
            trainer.callbacks.insert(0, self)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.stage == "train end":  # after the fit loop's last look for a stop
            self._pause(trainer, 0)

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.stage == "fit end":  # after Lightning's handlers are gone
            self._pause(trainer, 0)

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if self.stage == "setup":  # a stage's start: before Lightning installs its SIGTERM handler
            self._pause(trainer, 0)

    def _pause(self, trainer: L.Trainer, batch_idx: int) -> None:
        if (trainer.current_epoch, batch_idx) != (self.epoch, self.batch) or self.marker.exists():
            return
        handler = signal.getsignal(signal.SIGINT)
        self.marker.write_text("paused")
        deadline = time.monotonic() + 60
        # SIGTERM and a first Ctrl-C set Lightning's flag (or, in a fit's validation, the run's checkpoint
        # holds it to the validation's end; under DDP the rank notes it, for all to agree on after a step);
        # after Lightning's handlers are gone, a first Ctrl-C puts Python's back in the app's. A second Ctrl-C
        # raises KeyboardInterrupt inside sleep.
        while time.monotonic() < deadline and (
            self.until_interrupted or not (self._signalled(trainer) or signal.getsignal(signal.SIGINT) is not handler)
        ):
            time.sleep(0.02)

    @staticmethod
    def _signalled(trainer: L.Trainer) -> bool:
        held = getattr(trainer.checkpoint_callback, "stop_held", False)
        return trainer.received_sigterm or held or any(getattr(each, "noted", False) for each in trainer.callbacks)


def _system_handlers() -> None:
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_DFL)
