"""The command line: LightningCLI with this app's defaults; every value can be changed in config."""

import os
import warnings

from jsonargparse import lazy_instance
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.loggers import TensorBoardLogger

from mnist_pl import runs
from mnist_pl.callbacks import PredictionWriter
from mnist_pl.checkpoints import RNGStates
from mnist_pl.data import MNISTDataModule
from mnist_pl.errors import UserError
from mnist_pl.model import MNISTClassifier

# Noise a user cannot act on: Lightning 2.6 calls a pytree API that newer torch deprecates, and
# in-memory tensors need no DataLoader workers (workers would only copy them).
warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")
warnings.filterwarnings("ignore", message=r".*does not have many workers")
# Redraw the progress bar every 10 steps, not every step: each redraw costs ~0.7 ms of Python
# (measured, 300 LeNet steps on the CPU) and reads logged values back to the host. Lightning
# reads this variable; set it to 1 for a bar that moves on every step.
os.environ.setdefault("TQDM_MINITERS", "10")


class MNISTCLI(LightningCLI):
    """``fit``/``validate``/``test``/``predict`` for MNIST; ``fit`` ends by testing its best checkpoint."""

    def __init__(self, trainer_defaults: dict | None = None, **kwargs) -> None:
        trainer_defaults = dict(trainer_defaults or {})
        # Always on, whatever the config's callbacks: without it a resume draws other dropout masks.
        trainer_defaults["callbacks"] = [RNGStates(), *trainer_defaults.get("callbacks", [])]
        super().__init__(
            MNISTClassifier,
            MNISTDataModule,
            seed_everything_default=0,
            auto_configure_optimizers=False,
            trainer_defaults=trainer_defaults,
            **kwargs,
        )

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        # Checkpoints of the best epoch by val/acc and of the last epoch, in the run's version dir.
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        parser.set_defaults(
            {
                "model.net": {"class_path": "mnist_pl.nets.LeNet"},
                "checkpoint.monitor": "val/acc",
                "checkpoint.mode": "max",
                "checkpoint.filename": "best",
                "checkpoint.save_last": True,
                "trainer.deterministic": True,
                "trainer.plugins": {"class_path": "mnist_pl.checkpoints.AtomicCheckpointIO"},
                "trainer.logger": lazy_instance(
                    TensorBoardLogger, save_dir="logs", name="mnist", default_hp_metric=False
                ),
                "trainer.callbacks": [
                    {"class_path": "lightning.pytorch.callbacks.ModelSummary", "init_args": {"max_depth": 2}},
                    {
                        "class_path": "lightning.pytorch.callbacks.LearningRateMonitor",
                        "init_args": {"logging_interval": "epoch"},
                    },
                    {"class_path": "mnist_pl.callbacks.ImageLogger"},
                ],
            }
        )

    def _prepare_subcommand_parser(self, klass: type, subcommand: str, **kwargs) -> LightningArgumentParser:
        # Options of one subcommand only; LightningCLI's public hook cannot tell subcommands apart.
        parser = super()._prepare_subcommand_parser(klass, subcommand, **kwargs)
        if subcommand == "fit":
            parser.add_argument(
                "--test_after_fit", type=bool, default=True, help="Test the best checkpoint when fit ends."
            )
        if subcommand == "predict":  # --predictions.output: where the CSV goes
            parser.add_lightning_class_args(PredictionWriter, "predictions")
        return parser

    def before_fit(self) -> None:
        # A new run claims its own version dir; a resume goes on in the run of its checkpoint.
        self.config_init.fit.ckpt_path = runs.place_run(self.trainer, self.config_init.fit.ckpt_path)

    def fit(self, model: MNISTClassifier, **kwargs) -> None:
        runs.fit(self.trainer, model, **kwargs)

    def after_predict(self) -> None:
        failed = self.datamodule.predict_errors
        if failed:
            raise UserError(f"{len(failed)} file(s) could not be read (listed above): the others were predicted")

    def after_fit(self) -> None:
        if self.config.fit.test_after_fit and not self.trainer.interrupted:
            self.trainer.test(self.model, datamodule=self.datamodule, ckpt_path="best")
