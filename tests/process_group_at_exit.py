"""A callback the DDP tests load into each rank: whether its process ended its process group before exiting.

Recorded as the app calls ``destroy_process_group`` (a file per rank), not by an exit handler of its own: exit
handlers run last registered first, and the app's ends the group of a ddp_spawn process at its exit.
"""

from pathlib import Path

import lightning as L
import torch.distributed as dist


class ProcessGroupAtExit(L.Callback):
    def __init__(self, out_dir: str) -> None:
        self.out_dir = Path(out_dir)

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        out, destroy = self.out_dir / f"rank{trainer.global_rank}.txt", dist.destroy_process_group

        def recorded(*args, **kwargs) -> None:
            out.write_text("ended")
            destroy(*args, **kwargs)

        dist.destroy_process_group = recorded
