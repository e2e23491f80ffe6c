"""A callback the DDP test loads into each rank: it writes the training images each rank saw."""

import hashlib
from pathlib import Path

import lightning as L


class BatchRecorder(L.Callback):
    def __init__(self, out_dir: str) -> None:
        self.out_dir = Path(out_dir)
        self.digests: list[str] = []

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch, batch_idx: int) -> None:
        images = batch[0]
        self.digests += [hashlib.md5(image.cpu().numpy().tobytes()).hexdigest() for image in images]

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        (self.out_dir / f"rank{trainer.global_rank}.txt").write_text("\n".join(self.digests))
