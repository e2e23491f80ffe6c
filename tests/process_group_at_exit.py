"""A callback the DDP test loads into each rank: at its process's exit, whether the process group is still up."""

import atexit
from pathlib import Path

import lightning as L
import torch.distributed as dist


class ProcessGroupAtExit(L.Callback):
    def __init__(self, out_dir: str) -> None:
        self.out_dir = Path(out_dir)

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        out = self.out_dir / f"rank{trainer.global_rank}.txt"
        atexit.register(lambda: out.write_text(str(dist.is_initialized())))
