"""A callback the DDP test loads into each rank: it writes how many matplotlib figures the rank holds open."""

from pathlib import Path

import lightning as L
import matplotlib.pyplot as plt


class OpenFigures(L.Callback):
    def __init__(self, out_dir: str) -> None:
        self.out_dir = Path(out_dir)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        (self.out_dir / f"rank{trainer.global_rank}.txt").write_text(str(len(plt.get_fignums())))
