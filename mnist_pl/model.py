"""The LightningModule: what is learned and how it is measured; the network itself lives in nets."""

import inspect
import os
from pathlib import Path
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from jsonargparse.typing import ClosedUnitInterval
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor, nn
from torchmetrics import MaxMetric, MeanMetric, Metric
from torchmetrics.classification import MulticlassAccuracy

from mnist_pl.checkpoints import objects_left_out, overrides_checked, plain, refuse_an_export, refuse_damaged
from mnist_pl.data import MNISTDataModule
from mnist_pl.errors import UserError
from mnist_pl.optim import (
    lr_scheduler_config,
    refuse_a_schedule_the_run_outlasts,
    refuse_another_optimizer,
    refuse_bad_settings,
)
from mnist_pl.trainer import refuse_a_minimum_past_the_end, refuse_an_early_stop_before_validation

EACH_RANKS_TRAIN_SUMS = "train_metrics_of_each_rank"  # a DDP checkpoint's: TrainLossAccuracy's sums, rank by rank


class TrainLossAccuracy(Metric):
    """Mean loss and accuracy of the training batches since the last reset.

    The numbers ``MeanMetric`` and ``MulticlassAccuracy(average="micro")`` give, from four running
    sums added to in place. Their two updates cost 60 us of Python per training step on a 2-core
    CPU (argument casting, stat-score bookkeeping), this one 15 us: about 0.5% of a LeNet step.
    Under DDP torchmetrics sums the four states across processes, as for its own metrics.
    """

    full_state_update = False

    def __init__(self) -> None:
        super().__init__()
        self.add_state("loss_sum", torch.zeros(()), dist_reduce_fx="sum")
        for count in ("steps", "right", "seen"):
            self.add_state(count, torch.zeros((), dtype=torch.long), dist_reduce_fx="sum")

    def update(self, loss: Tensor, preds: Tensor, labels: Tensor) -> None:
        self.loss_sum.add_(loss.detach())
        self.steps.add_(1)
        self.right.add_((preds == labels).sum())
        self.seen.add_(labels.numel())

    def compute(self) -> tuple[Tensor, Tensor]:
        return self.loss_sum / self.steps, self.right / self.seen


class MNISTClassifier(L.LightningModule):
    """Trains any 10-class network with log-softmax + NLL loss and reports accuracy per stage.

    Args:
        net: the network: a class (``--model.net FastCNN``, its settings ``--model.net.width 32``, listed by
            ``--model.net.help FastCNN``), or a config's ``class_path`` and ``init_args``.
        optimizer: called with the parameters: a class and its settings (``--model.optimizer SGD
            --model.optimizer.lr 0.1``); Adam at its default lr, 0.001, if none is given.
        scheduler: an optional learning-rate schedule, called with the optimizer and stepped once per epoch
            (``--model.scheduler StepLR --model.scheduler.step_size 3``). One over optimizer steps
            (with a ``total_steps`` argument, as ``OneCycleLR``) is given this run's number of steps
            unless set, and steps after every batch, as ``CyclicLR`` does. A cosine over fewer epochs
            than the run (``T_max`` < ``trainer.max_epochs``) is warned about. ``ReduceLROnPlateau``
            watches ``val/loss`` (or the ``monitor`` of Lightning's subclass).
        label_smoothing: weight of the uniform target mixed into the training loss (0 = plain NLL);
            ``val/loss`` and ``test/loss`` are the NLL.
        channels_last: store the conv weights, and so the activations, NHWC. On a 2-core Xeon a LeNet step
            at batch 64 takes 9.2 instead of 12.4 ms (max-pool and conv kernels vectorise over channels).
            False for a network that calls ``.view()`` on its activations (or use ``torch.flatten``).
        compile: ``torch.compile`` the network, in every stage (``configure_model``): a slower start for
            faster steps where it wins (off: a compiled LeNet step was slower on a CPU).
        cuda_graphs: on a CUDA GPU, capture the network's training forward and backward once, at the
            first training batch, as two CUDA graphs (``torch.cuda.make_graphed_callables``) and replay
            them for every batch of that size: two launches instead of one per layer, for small networks
            whose steps wait on launches. On an H200 (2026-12-04, README) ``fast.yaml`` trained 1.3-1.8x
            faster to the same accuracy, and a LeNet epoch took 1.62 s instead of 2.74 s. Evaluation and
            batches of another size (an epoch's last) run the network as it is. On a CPU, nothing. One
            process only.
    """

    # What a fit logs once per epoch, the values a checkpoint or early stopping can watch: a monitored
    # key is checked against them before a fit starts (Lightning finds a wrong one after the first
    # epoch). train/loss_step is logged only every trainer.log_every_n_steps steps.
    EPOCH_METRICS = ("train/loss", "train/acc", "val/loss", "val/acc", "val/acc_best")

    @classmethod
    def best_mode(cls, metric: object, mode: str) -> str:
        """The mode that takes ``metric``'s best value: min for any loss (a name ending in /loss), max for
        this model's other epoch metrics; ``mode`` for any other metric."""
        return "min" if str(metric).endswith("/loss") else "max" if metric in cls.EPOCH_METRICS else mode

    def __init__(
        self,
        net: nn.Module,
        optimizer: OptimizerCallable = torch.optim.Adam,
        scheduler: LRSchedulerCallable | None = None,
        label_smoothing: ClosedUnitInterval = 0.0,
        channels_last: bool = True,
        compile: bool = False,
        cuda_graphs: bool = False,
    ) -> None:
        super().__init__()
        if compile and cuda_graphs:  # make_graphed_callables cannot capture a compiled module
            raise UserError(
                "--model.compile and --model.cuda_graphs: give one of them (configs/fast.yaml turns graphs on: "
                "add --model.cuda_graphs false to compile; torch.compile's mode reduce-overhead makes CUDA graphs "
                "of its own)"
            )
        self._check_outputs(net)
        # From Python, as the fit started: "'SGD' object is not callable", "'str' object is not callable".
        if isinstance(optimizer, torch.optim.Optimizer):
            raise UserError(
                "--model.optimizer: an optimizer already built: give its class, or a function of the parameters "
                "(functools.partial(torch.optim.SGD, lr=0.01)): the model builds it on its own parameters"
            )
        if not callable(optimizer):
            raise UserError(
                f"--model.optimizer {optimizer!r}: not an optimizer class or function of the parameters: give one, "
                "such as torch.optim.SGD or functools.partial(torch.optim.SGD, lr=0.01)"
            )
        if isinstance(scheduler, torch.optim.lr_scheduler.LRScheduler | torch.optim.lr_scheduler.ReduceLROnPlateau):
            raise UserError(
                "--model.scheduler: a schedule already built: give its class, or a function of the optimizer "
                "(functools.partial(torch.optim.lr_scheduler.StepLR, step_size=3)): the model builds it on its "
                "optimizer"
            )
        if scheduler is not None and not callable(scheduler):
            raise UserError(
                f"--model.scheduler {scheduler!r}: not a schedule class or function of the optimizer: give one, "
                "such as torch.optim.lr_scheduler.StepLR with its step_size in a functools.partial"
            )
        # A plain float, which checkpoints hold (a numpy one made them unloadable weights-only); the CLI's type
        # checks the range, F.cross_entropy's own (label_smoothing=) refuses one outside it, this loss did not.
        label_smoothing = plain("--model.label_smoothing", label_smoothing, float)
        channels_last, compile, cuda_graphs = (
            plain(f"--model.{name}", value, bool)
            for name, value in (("channels_last", channels_last), ("compile", compile), ("cuda_graphs", cuda_graphs))
        )
        if label_smoothing is None or not 0 <= label_smoothing <= 1:
            raise UserError(f"--model.label_smoothing {label_smoothing}: expected a number from 0 to 1")
        for name, value in (("channels_last", channels_last), ("compile", compile), ("cuda_graphs", cuda_graphs)):
            if not isinstance(value, bool):  # from Python, None was taken for false
                raise UserError(f"--model.{name} {value}: expected true or false")
        # LightningCLI stores the config (class paths and arguments) as hparams, so a checkpoint
        # alone rebuilds this module, network included.
        self.save_hyperparameters(ignore=objects_left_out("net", "optimizer", "scheduler"))
        self.net = net.to(memory_format=torch.channels_last) if channels_last else net
        self.optimizer = optimizer
        self.scheduler = scheduler
        # micro: the fraction of images right (torchmetrics' default, macro, averages per class).
        # No argument validation: it reads values back to the host, a sync on every step.
        metric_args = {"num_classes": 10, "average": "micro", "validate_args": False}
        self.train_metrics = TrainLossAccuracy()
        # In checkpoints: a run resumed in the middle of an epoch averages that whole epoch. (Under
        # DDP each rank resumes with its own sums: on_save_checkpoint gathers them.)
        self.train_metrics.persistent(True)
        self.val_acc = MulticlassAccuracy(**metric_args)
        self.test_acc = MulticlassAccuracy(**metric_args)
        # Per-image mean losses from sums over all ranks. Lightning's sync_dist weighs each rank's mean by its
        # batch size but averages the image counts as integers, off when the shards differ in size (7 values on
        # 2 ranks: a mean of 15.17 for 13.0; 10,000 test images on 3 ranks). A NaN stays NaN,
        # without a check that reads every batch's loss back to the host. Updated with the batch's
        # mean once per image: torchmetrics 1.9 drops update(weight=) under nan_strategy="disable".
        self.val_loss = MeanMetric(nan_strategy="disable")
        self.test_loss = MeanMetric(nan_strategy="disable")
        self.val_acc_best = MaxMetric()
        self.val_acc_best.persistent(True)  # in checkpoints, so a resumed run keeps its best so far
        # A fit from another run's checkpoint (its best.ckpt, say) that starts a run of its own, whose
        # best is its own, as its best.ckpt is (MNISTCLI sets it; Lightning alone resumes the run).
        self.forks_a_run = False
        self._graphed = False  # cuda_graphs: the network's graphs are captured
        self._counted = False  # the batch's training_step has run once (LBFGS runs it again)
        # The data state of the checkpoint it was loaded from: the data its network learned from (on_load_checkpoint).
        self.trained_data: dict[str, Any] | None = None
        # One normalised image: the model summary then shows each layer's output size and FLOPs.
        # Not for a compiled network: a batch of one would compile it once more.
        if not compile:
            self.example_input_array = torch.zeros(1, 1, 28, 28)

    @staticmethod
    def _check_outputs(net: nn.Module) -> None:
        # From Python: the class (LeNet, not LeNet()) or None ended in an AttributeError or TypeError.
        if isinstance(net, type):
            raise UserError(f"--model.net {net.__name__}: the class, not a network: give {net.__name__}()")
        if not isinstance(net, nn.Module):
            raise UserError(f"--model.net {net!r}: not a network (a torch.nn.Module): give one, such as LeNet()")
        # The datasets have 10 classes, and so do the metrics, pictures and CSV columns: a network
        # with fewer outputs failed in its first step, one with more trained and broke the CSV.
        modes = {module: module.training for module in net.modules()}  # each its own: a frozen part stays so
        net.eval()  # no batch-norm statistics or dropout drawn
        name = type(net).__name__
        weight = next(net.parameters(), torch.zeros(()))  # the image in its dtype and on its device
        try:
            with torch.no_grad():
                returned = net(weight.new_zeros(1, 1, 28, 28))
            if not isinstance(returned, Tensor):  # a tuple or dict: "'tuple' object has no attribute 'shape'"
                raise TypeError(f"it returns a {type(returned).__name__}, not a tensor of 10 class scores")
            outputs = tuple(returned.shape)
        except (RuntimeError, ValueError, TypeError) as err:
            raise UserError(
                f"--model.net {name}: fails on a 1x28x28 image ({' '.join(str(err).split())}): "
                "give a network for MNIST's images"
            ) from err
        finally:
            for module, training in modes.items():
                module.training = training
        if outputs != (1, 10):
            gives = f"{outputs[1]} class scores" if len(outputs) == 2 else f"outputs of shape {outputs}"
            takes = "num_classes" in inspect.signature(type(net)).parameters
            fix = "give --model.net.init_args.num_classes 10" if takes else "give a network of 10 outputs"
            raise UserError(f"--model.net {name}: gives {gives} for an image, the datasets have 10 classes: {fix}")

    def __setattr__(self, name: str, value: Any) -> None:
        # Lightning names the hook it runs in _current_fx_name, ~40 times per training step.
        # nn.Module.__setattr__ first checks whether a value is a parameter, buffer or submodule
        # (1.3 us, 0.05 ms per step); a hook's name is none of those, so it goes straight in, as does _counted.
        if name in ("_current_fx_name", "_counted"):
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    def configure_model(self) -> None:
        # In every stage, as the Trainer sets the model up; a checkpoint loaded to run uncompiled (export's)
        # passes compile=False.
        if self.hparams.compile:
            self.net.compile()  # in place: parameter names, and so checkpoints, stay the same

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        # For validate/test/predict of the checkpoint alone: in another precision a fast.yaml run's
        # test/acc was not its fit's own (0.8814 in fp32 against 0.8819 in bf16 after 20 batches).
        checkpoint["precision"] = str(self.trainer.precision)
        # Under DDP each process sums its own batches, and the file is rank 0's: a resume in the middle of an
        # epoch counted rank 0's first batches twice and the others' not at all in its train/loss and train/acc.
        # Every rank builds the checkpoint, so each rank's sums are gathered here, for each to take its own.
        if self.trainer.world_size > 1:
            states = self.train_metrics.metric_state.items()
            checkpoint[EACH_RANKS_TRAIN_SUMS] = {name: self.all_gather(value) for name, value in states}

    @classmethod
    def load_from_checkpoint(cls, checkpoint_path: Any, *args: Any, **kwargs: Any) -> "MNISTClassifier":
        """Lightning's; a checkpoint saved from a module built in Python names no network, and without ``net=``
        ended in Lightning's TypeError: "__init__() missing 1 required positional argument: 'net'"."""
        if isinstance(checkpoint_path, str | os.PathLike):  # not a file object: read once by torch alone
            refuse_an_export(checkpoint_path)  # torch's "your checkpoint file is corrupted", or 30 lines of unpickling
            refuse_damaged(checkpoint_path)
        if "net" in kwargs and (kwargs["net"] is None or isinstance(kwargs["net"], type)):  # jsonargparse's traceback
            cls._check_outputs(kwargs["net"])  # (a config's class_path and init_args, or its class path, are taken)
        try:
            # A network for the checks of the other arguments, built only where one fails.
            stand_in = {"net": lambda: nn.Sequential(nn.Flatten(), nn.Linear(784, 10))}
            with overrides_checked(cls, L.LightningModule.load_from_checkpoint, kwargs, **stand_in):
                return super().load_from_checkpoint(checkpoint_path, *args, **kwargs)
        except TypeError as err:
            if "required positional argument: 'net'" not in str(err):
                raise
            raise UserError(
                f"{checkpoint_path}: the checkpoint names no network (saved from a module built in Python): give it, "
                "MNISTClassifier.load_from_checkpoint(path, net=LeNet()) for a LeNet"
            ) from None

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        # A trainer's checkpoint from Python (trainer.test(ckpt_path=...)). The CLI checked it before building anything,
        # and it is checked again here: 5 ms for a LeNet's, 17 ms for a 49 MiB BatchNormCNN's, once a command (a cache
        # keyed on the file's stat could miss one rewritten in place within a timestamp's tick).
        if self._trainer is not None and self.trainer.ckpt_path and Path(self.trainer.ckpt_path).is_file():
            refuse_damaged(self.trainer.ckpt_path)
            # A fit of a module built in Python (its optimizer an object, not in hparams; the CLI checked its own).
            if self.trainer.state.fn == "fit" and "optimizer" not in self.hparams:
                refuse_another_optimizer(self, checkpoint, self.trainer.ckpt_path, in_python=True)
        # Lightning loads the weights, then converts the model to a 64-true run's float64: the
        # checkpoint's float64 weights were rounded to float32 on the way, and a resume was not exact.
        if self._trainer is not None and str(self.trainer.precision) == "64-true":
            self.double()
        state = checkpoint.get("state_dict", {})
        rank, ranks = (self.trainer.global_rank, self.trainer.world_size) if self._trainer is not None else (0, 1)
        for name, sums in checkpoint.get(EACH_RANKS_TRAIN_SUMS, {}).items():
            # In as many processes, each its own; else rank 0 the sums of all (a resume at an epoch's end).
            state[f"train_metrics.{name}"] = sums[rank] if len(sums) == ranks else sums.sum(0) * (rank == 0)
        # Loaded in Python (load_from_checkpoint) and evaluated with a data module of another normalisation,
        # a network scored 46.9% for its 48.7%, without a word: each evaluation checks its data against this.
        self.trained_data = checkpoint.get(MNISTDataModule.__qualname__)  # where Lightning keeps a data module's state
        # A checkpoint of another network would fail in load_state_dict with a 40-line traceback.
        # The network's weights only: a checkpoint's metric states are this app's own.
        ours = {name: tuple(t.shape) for name, t in self.state_dict().items() if name.startswith("net.")}
        weights = checkpoint.get("state_dict", {}).items()
        theirs = {name: tuple(t.shape) for name, t in weights if name.startswith("net.")}
        if ours != theirs:
            # The file, where a trainer restores it (--ckpt_path): other refusals of a checkpoint name it (an audit).
            path = self._trainer.ckpt_path if self._trainer is not None else None
            where = f"--ckpt_path {path}: " if path else ""
            differ = (
                f"{len(set(ours) ^ set(theirs))} names and "
                f"{sum(ours[k] != theirs[k] for k in set(ours) & set(theirs))} shapes differ"
            )
            name = type(self.net).__name__
            trained = checkpoint.get("hyper_parameters", {}).get("net")
            if isinstance(trained, dict) and trained.get("class_path") == f"{type(self.net).__module__}.{name}":
                # Its own class, rebuilt from its own settings: the class's layers changed since.
                raise UserError(
                    f"{where}the checkpoint's {name} has other layers than this version's {name} ({differ}): "
                    "it was written by another version of mnist_pl; train it again with this one"
                )
            # A CLI run's, loaded with net=another (Lightning hands load_from_checkpoint's net= in as the checkpoint's
            # own): it was said to name no network (an audit).
            if isinstance(trained, nn.Module) and "_instantiator" in checkpoint.get("hyper_parameters", {}):
                raise UserError(
                    f"{where}the checkpoint holds other weights than {name} ({differ}): it names its own network, "
                    "a CLI run's: load_from_checkpoint without net="
                )
            # Saved from a module built in Python (LeNet, the default, was built for it), or given one.
            if trained is None or isinstance(trained, nn.Module):
                raise UserError(
                    f"{where}the checkpoint holds other weights than {name} ({differ}) and names no network (saved "
                    "from a module built in Python): give its network class with --model.net (importable: PYTHONPATH), "
                    "from Python net=<that class>()"
                )
            raise UserError(
                f"{where}the checkpoint holds other weights than {name} ({differ}): give a checkpoint of this network, "
                "or leave out --config/--model.net to rebuild its own (from Python: load_from_checkpoint without net=)"
            )
        # A CLI run's checkpoint loaded in Python is rebuilt from its settings, but outside LightningCLI, whose
        # given hyperparameters keep the network's: a fine-tuned model's checkpoints then named none, and
        # needed net= (an audit). Its network's settings go on, as the optimizer's do not: the fit is the user's.
        given = checkpoint.get("hyper_parameters", {})
        if self._trainer is None and "net" not in self.hparams and isinstance(given.get("net"), dict):
            self.hparams.update({key: given[key] for key in ("net", "_instantiator") if key in given})

    def forward(self, images: Tensor) -> Tensor:
        """Log-probabilities of the 10 classes of images (N, 1, 28, 28) normalised as in training
        (``MNISTDataModule.normalize``); an ``export`` takes pixels in [0, 1] and normalises them itself."""
        if images.dtype == torch.uint8:  # else torch's "Input type (unsigned char) and bias type (float)"
            raise UserError(
                "MNISTClassifier: the batch holds raw uint8 pixels: the data module normalises each batch itself, "
                "so give the trainer datamodule=dm (not one of its loaders), or dm.normalize(images)"
            )
        if images.shape[1:] != (1, 28, 28):  # (N, 28, 28): torch's "expected input[1, 8, 28, 28] to have 1 channels"
            raise UserError(
                f"MNISTClassifier: images of shape {tuple(images.shape)}: give (N, 1, 28, 28), normalised as in "
                "training: images.unsqueeze(1) adds the channel, dm.normalize(images) of raw pixels does both"
            )
        try:
            logits = self.net(images)
        except RuntimeError as err:  # the classic PyTorch example's x.view(-1, 4*4*50), a 70-line traceback
            if not (self.hparams.channels_last and "view size is not compatible" in str(err)):
                raise
            raise UserError(
                f"--model.net {type(self.net).__name__}: its forward calls .view() on activations stored channels-last "
                "(--model.channels_last true, the default): flatten them with torch.flatten(x, 1) or x.reshape(...), "
                "or give --model.channels_last false"
            ) from err
        return F.log_softmax(logits, dim=1)

    def model_step(self, batch: tuple[Tensor, Tensor], smoothing: float = 0.0) -> tuple[Tensor, Tensor, Tensor]:
        """The loss, predicted classes and labels of a batch. Label ``smoothing`` is for the training
        loss: val/loss and test/loss stay the NLL, comparable between recipes."""
        images, labels = batch
        log_probs = self(images)
        loss = F.nll_loss(log_probs, labels)
        if smoothing:
            # cross_entropy(logits, labels, label_smoothing=s) in torch's terms, from the log-probabilities
            # the model already has (that function would take their log-softmax again).
            loss = (1 - smoothing) * loss - smoothing * log_probs.mean(dim=1).mean()
        return loss, log_probs.argmax(dim=1), labels

    def on_fit_start(self) -> None:
        self.trained_data = None  # a fit learns the data it is given (a resume's was checked as it was read)
        self._ungraph()  # a fit before this one may have left graphs of its own
        refuse_a_minimum_past_the_end(self.trainer)  # not in on_train_start: a LearningRateFinder's own fit calls it
        refuse_an_early_stop_before_validation(self.trainer)
        if not (self.hparams.cuda_graphs and self.device.type == "cuda"):
            return
        # DDP's gradient hooks around graphs that make_graphed_callables captured in one process: untried.
        if self.trainer.world_size > 1:
            raise UserError(
                f"--model.cuda_graphs: one process only, this run has {self.trainer.world_size}: "
                "give --model.cuda_graphs false, or train on one GPU"
            )
        # The graphed backward hands each weight its gradient in a buffer the next replay overwrites:
        # accumulated over batches, the sum was the last batch's gradient twice (pytorch/pytorch#181723).
        if (accumulate := self.trainer.accumulate_grad_batches) > 1:
            raise UserError(
                f"--model.cuda_graphs with --trainer.accumulate_grad_batches {accumulate}: the graphs' "
                "gradients cannot be accumulated: give --model.cuda_graphs false, or "
                "--trainer.accumulate_grad_batches 1 (a larger --data.batch_size in its place)"
            )

    def teardown(self, stage: str) -> None:
        # Lightning moves the module to the CPU after a fit: graphs left on it would read the freed GPU weights.
        self._ungraph()

    def _refuse_other_data(self) -> None:
        if self.trained_data is not None and isinstance(data := self.trainer.datamodule, MNISTDataModule):
            data.refuse_other_data(self.trained_data)

    def on_validation_start(self) -> None:
        self._refuse_other_data()

    def on_test_start(self) -> None:
        self._refuse_other_data()

    def on_predict_start(self) -> None:
        self._refuse_other_data()

    def on_train_start(self) -> None:
        # A new run's best is its own: from a checkpoint that starts a run of its own (forks_a_run), or from
        # Python, a model loaded from one or fitted before (after a resume's restore: on_fit_start comes
        # before it under FSDP).
        if self.forks_a_run or self.trainer.ckpt_path is None:
            self.val_acc_best.reset()
        # (val_acc needs no reset after the sanity check: Lightning resets a logged Metric after every
        # evaluation epoch, the sanity check's included.)
        refuse_a_schedule_the_run_outlasts(self.trainer)

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        loss, preds, labels = self.model_step(batch, self.hparams.label_smoothing)
        # LBFGS calls the closure, and so this step, up to max_iter x 1.25 times a batch: counted at the first
        # call, the weights before the step as with any other optimizer (each call was: 15 steps for 3 batches).
        if self._counted:
            return loss
        self._counted = True
        self.train_metrics.update(loss, preds, labels)
        # Each self.log call costs ~1 ms of Python on a CPU (Lightning re-walks its result object),
        # 8% of a LeNet step: the step loss is logged only as often as the logger writes it.
        every = self.trainer.log_every_n_steps  # 0: the logger writes no step values
        if every and (self.global_step + 1) % every == 0:  # the steps the logger writes
            self.log("train/loss_step", loss, prog_bar=True)
        return loss

    def on_train_batch_start(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._counted = False  # training_step counts the batch once (there: why)
        # Not at the epoch's end: a checkpoint written there holds the finished epoch's sums.
        # Resumed in the middle of an epoch, batch_idx goes on from the checkpoint's batch.
        if batch_idx == 0:
            self.train_metrics.reset()
        if self.hparams.cuda_graphs and self.device.type == "cuda" and not self._graphed:
            self._graph_net(batch[0])

    def _graph_net(self, images: Tensor) -> None:
        """Capture ``net``'s training forward and backward for batches shaped like ``images`` (``cuda_graphs``)."""
        net = self.net
        eager = net.forward
        # make_graphed_callables runs the network on its zero sample three times to warm up: the
        # batch-norm statistics that moved are put back, in place (the graph holds their addresses).
        buffers = [(buffer, buffer.clone()) for buffer in net.buffers()]
        with self.trainer.precision_plugin.train_step_context():  # bf16-mixed: captured under its autocast
            torch.cuda.make_graphed_callables(net, (torch.zeros_like(images),))
        for buffer, saved in buffers:
            buffer.copy_(saved)
        graphed = net.forward  # the graphs in training mode, the network as it is in evaluation
        shape = images.shape
        net.forward = lambda x: graphed(x) if x.shape == shape else eager(x)
        self._graphed = True

    def _ungraph(self) -> None:
        if self._graphed:
            del self.net.forward  # the class's own again
            self._graphed = False

    def on_train_epoch_end(self) -> None:
        loss, acc = self.train_metrics.compute()
        self.log_dict({"train/loss": loss, "train/acc": acc})

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        """Returns the predicted classes, for callbacks that draw them."""
        loss, preds, labels = self.model_step(batch)
        self.val_acc.update(preds, labels)  # its epoch's value is logged: no batch value computed
        self.val_loss.update(loss.expand(len(labels)))
        self.log("val/loss", self.val_loss, prog_bar=True)
        self.log("val/acc", self.val_acc, prog_bar=True)
        return preds

    def on_validation_epoch_end(self) -> None:
        # The sanity check: a few batches, before any training. `validate`: one validation, no run's best.
        if self.trainer.sanity_checking or self.trainer.state.fn != "fit":
            return
        self.val_acc_best.update(self.val_acc.compute())  # not its forward: an update, a compute and another update
        self.log("val/acc_best", self.val_acc_best.compute(), prog_bar=True)

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        loss, preds, labels = self.model_step(batch)
        self.test_acc.update(preds, labels)  # its epoch's value is logged: no batch value computed
        self.test_loss.update(loss.expand(len(labels)))
        self.log("test/loss", self.test_loss)
        self.log("test/acc", self.test_acc)
        return preds

    def predict_step(self, batch: tuple[Tensor, Tensor] | Tensor, batch_idx: int) -> Tensor:
        """The probabilities of the 10 classes for each image: of the data module's (images, labels), or of a
        loader of images alone (a tensor, or a TensorDataset's 1-tuple: an unpacking error, an audit)."""
        images = batch if isinstance(batch, Tensor) else batch[0]
        return self(images).exp()

    def configure_optimizers(self) -> dict[str, Any]:
        refuse_bad_settings(self)  # as the CLI does before the run: a negative gamma, from Python, ran gradient ascent
        optimizer = self.optimizer(self.parameters())
        if self.scheduler is None:
            return {"optimizer": optimizer}
        return {"optimizer": optimizer, "lr_scheduler": lr_scheduler_config(self, optimizer)}
