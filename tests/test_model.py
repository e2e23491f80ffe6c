"""The LightningModule trained by a real Trainer on real MNIST: it learns, and seeds decide everything."""

import copy
import csv
import inspect
import math
import os
import re
from functools import partial
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml
from conftest import QUIET, REPO, flipped, write_onnx_model
from lightning.pytorch.callbacks import LearningRateMonitor
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import nn
from torchmetrics import MeanMetric
from torchmetrics.classification import MulticlassAccuracy

from mnist_pl import export, nets, optim
from mnist_pl.augment import RandomAffine
from mnist_pl.callbacks import run_settings
from mnist_pl.cli import MNISTCLI
from mnist_pl.data import MNISTDataModule
from mnist_pl.errors import UserError
from mnist_pl.model import MNISTClassifier, TrainLossAccuracy
from mnist_pl.nets import BatchNormCNN, ExampleNet, FastCNN, LeNet, MinimalCNN


def train(tmp_path: Path, seed: int, epochs: int = 1, steps: int = 40) -> tuple[MNISTClassifier, dict]:
    L.seed_everything(seed)
    model = MNISTClassifier(LeNet(), optimizer=partial(torch.optim.SGD, lr=0.05, momentum=0.9))
    trainer = L.Trainer(
        max_epochs=epochs,
        limit_train_batches=steps,
        limit_val_batches=2,
        deterministic=True,
        logger=False,
        default_root_dir=tmp_path,
        **QUIET,
    )
    trainer.fit(model, datamodule=MNISTDataModule(data_dir=str(REPO / "data")))
    return model, {k: v.item() for k, v in trainer.callback_metrics.items()}


def test_forward_gives_log_probabilities() -> None:
    model = MNISTClassifier(LeNet())
    log_probs = model(torch.randn(4, 1, 28, 28))
    assert log_probs.shape == (4, 10)
    assert torch.allclose(log_probs.exp().sum(dim=1), torch.ones(4))


def test_train_metrics_equal_torchmetrics_mean_and_accuracy() -> None:
    """The running sums give what MeanMetric and micro MulticlassAccuracy give, across resets."""
    ours, mean, accuracy = TrainLossAccuracy(), MeanMetric(), MulticlassAccuracy(num_classes=10, average="micro")
    generator = torch.Generator().manual_seed(0)
    for epoch in range(2):
        for size in (64, 64, 17):  # a short last batch counts as one step of the mean loss, as in MeanMetric
            loss = torch.rand((), generator=generator)
            preds, labels = torch.randint(0, 10, (2, size), generator=generator)
            ours.update(loss, preds, labels)
            mean.update(loss)
            accuracy.update(preds, labels)
        ours_loss, ours_acc = ours.compute()
        assert torch.allclose(ours_loss, mean.compute()) and torch.allclose(ours_acc, accuracy.compute()), epoch
        for metric in (ours, mean, accuracy):
            metric.reset()


def test_label_smoothing_is_torchs_cross_entropy_with_smoothing() -> None:
    """--model.label_smoothing s: torch's cross_entropy(label_smoothing=s), the target mixed towards uniform."""
    torch.manual_seed(0)
    images, labels = torch.randn(16, 1, 28, 28), torch.randint(0, 10, (16,))
    model = MNISTClassifier(LeNet())
    for smoothing in (0.0, 0.1, 0.5):
        loss, _, _ = model.model_step((images, labels), smoothing)
        expected = F.cross_entropy(model.net(images), labels, label_smoothing=smoothing)
        assert torch.allclose(loss, expected, atol=1e-6), smoothing


class SmoothedLoss(L.Callback):
    """Each training step's loss, beside torch's smoothed cross-entropy of its batch by the weights it started from."""

    def __init__(self, smoothing: float) -> None:
        self.smoothing, self.pairs = smoothing, []

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch, batch_idx: int) -> None:
        images, labels = batch  # normalised: on_after_batch_transfer has run
        with torch.no_grad():
            self.expected = F.cross_entropy(pl_module.net(images), labels, label_smoothing=self.smoothing)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        self.pairs.append((outputs["loss"].item(), self.expected.item()))


def test_label_smoothing_is_for_training_only() -> None:
    """The training steps minimise the smoothed loss; val/loss and test/loss are the NLL of every recipe, smoothed
    or not: comparable between them, and what ReduceLROnPlateau and EarlyStopping watch. It was the smoothed
    objective."""
    torch.manual_seed(0)
    model = MNISTClassifier(LeNet(), label_smoothing=0.5)
    dm = MNISTDataModule(data_dir=str(REPO / "data"), eval_batch_size=100)
    recorder = SmoothedLoss(0.5)
    trainer = L.Trainer(
        max_steps=2, limit_val_batches=1, limit_test_batches=1, logger=False, callbacks=[recorder], **QUIET
    )
    trainer.fit(model, datamodule=dm)
    assert len(recorder.pairs) == 2
    for loss, expected in recorder.pairs:
        assert loss == pytest.approx(expected, abs=1e-5)
    for stage, evaluate, loader in (
        ("val", trainer.validate, dm.val_dataloader),
        ("test", trainer.test, dm.test_dataloader),
    ):
        evaluate(model, datamodule=dm)
        images, labels = next(iter(loader()))
        with torch.no_grad():
            nll = F.nll_loss(model(dm.normalize(images)), labels)
        assert torch.allclose(trainer.callback_metrics[f"{stage}/loss"], nll, atol=1e-6), stage


def test_val_and_test_metrics_are_of_every_image_in_eval_mode() -> None:
    """val/* and test/* are the network's in eval mode (dropout off), over each image of the split: means over
    images, not over batches of uneven sizes (3000 and 2000; 3000 x 3 and 1000). Every other check of them was a
    lower bound, or of a network without dropout: a test/acc of the labels against themselves, 1.0, passed."""
    from dropout_net import DropoutNet

    torch.manual_seed(0)
    model = MNISTClassifier(DropoutNet(p=0.5))
    dm = MNISTDataModule(data_dir=str(REPO / "data"), eval_batch_size=3000)
    L.Trainer(max_steps=30, limit_val_batches=0, logger=False, **QUIET).fit(model, datamodule=dm)
    trainer = L.Trainer(logger=False, **QUIET)
    for stage, evaluate, split in (("val", trainer.validate, dm.val_set), ("test", trainer.test, dm.test_set)):
        evaluate(model, datamodule=dm)
        model.eval()
        with torch.no_grad():
            log_probs = model(dm.normalize(split.images))
        loss = F.nll_loss(log_probs, split.labels)
        acc = (log_probs.argmax(1) == split.labels).float().mean()
        assert 0.3 < acc < 0.99, stage  # trained a little: neither chance nor every image
        assert trainer.callback_metrics[f"{stage}/loss"].item() == pytest.approx(loss.item(), rel=1e-5), stage
        assert trainer.callback_metrics[f"{stage}/acc"].item() == pytest.approx(acc.item(), abs=1e-6), stage


def _classic_example(x: torch.Tensor, *weights: torch.Tensor) -> torch.Tensor:
    """The forward of the classic PyTorch MNIST example's Net (2018), as it wrote it, but for its log_softmax."""
    conv1_w, conv1_b, conv2_w, conv2_b, fc1_w, fc1_b, fc2_w, fc2_b = weights
    x = F.max_pool2d(F.relu(F.conv2d(x, conv1_w, conv1_b)), 2, 2)
    x = F.max_pool2d(F.relu(F.conv2d(x, conv2_w, conv2_b)), 2, 2)
    x = x.view(-1, 4 * 4 * 50)
    return F.linear(F.relu(F.linear(x, fc1_w, fc1_b)), fc2_w, fc2_b)


def _todays_example(x: torch.Tensor, *weights: torch.Tensor) -> torch.Tensor:
    """The forward of today's example (pytorch/examples/mnist), in eval mode (its dropouts pass all through)."""
    conv1_w, conv1_b, conv2_w, conv2_b, fc1_w, fc1_b, fc2_w, fc2_b = weights
    x = F.max_pool2d(F.relu(F.conv2d(F.relu(F.conv2d(x, conv1_w, conv1_b)), conv2_w, conv2_b)), 2)
    return F.linear(F.relu(F.linear(torch.flatten(x, 1), fc1_w, fc1_b)), fc2_w, fc2_b)


@pytest.mark.parametrize("net, example", [(LeNet, _classic_example), (ExampleNet, _todays_example)])
def test_the_tutorials_networks_compute_what_the_tutorials_do(net: type[nn.Module], example: Any) -> None:
    """With the same weights, the same outputs: a ReLU left out still trained LeNet past 90% and passed the rest."""
    torch.manual_seed(0)
    built, images = net().eval(), torch.randn(8, 1, 28, 28)
    with torch.no_grad():
        assert torch.allclose(built(images), example(images, *built.parameters()), atol=1e-5)


class BatchLosses(L.Callback):
    """Each epoch's training losses, and the train/loss the model logged for it."""

    def __init__(self) -> None:
        self.losses: list[list[float]] = []
        self.logged: list[float] = []

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.losses:  # the previous epoch's value, logged by its end hooks
            self.logged.append(trainer.callback_metrics["train/loss"].item())
        self.losses.append([])

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        self.losses[-1].append(outputs["loss"].item())

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.logged.append(trainer.callback_metrics["train/loss"].item())


def test_train_loss_is_the_mean_of_its_own_epoch(tmp_path: Path) -> None:
    """train/loss (and train/acc, from the same sums) of each epoch averages that epoch's batches only."""
    L.seed_everything(0)
    recorder = BatchLosses()
    trainer = L.Trainer(
        max_epochs=3, limit_train_batches=4, limit_val_batches=0, logger=False, callbacks=[recorder], **QUIET
    )
    trainer.fit(MNISTClassifier(MinimalCNN()), datamodule=MNISTDataModule(data_dir=str(REPO / "data")))
    assert [len(epoch) for epoch in recorder.losses] == [4, 4, 4]
    expected = [sum(epoch) / len(epoch) for epoch in recorder.losses]
    assert recorder.logged == pytest.approx(expected, rel=1e-5)


def test_short_fit_learns_far_beyond_chance(tmp_path: Path) -> None:
    _, metrics = train(tmp_path, seed=0, steps=100)
    assert metrics["val/acc"] > 0.9  # chance is 0.1
    assert metrics["train/loss"] < 1.0
    # What the CLI checks a monitored key against (--checkpoint.monitor) is what the model logs.
    assert sorted(metrics) == sorted([*MNISTClassifier.EPOCH_METRICS, "train/loss_step"])


def test_same_seed_same_weights_and_metrics(tmp_path: Path) -> None:
    first, first_metrics = train(tmp_path, seed=7)
    second, second_metrics = train(tmp_path, seed=7)
    other, _ = train(tmp_path, seed=8)
    for name, tensor in first.state_dict().items():
        assert torch.equal(tensor, second.state_dict()[name]), name
    assert first_metrics == second_metrics
    assert not torch.equal(first.net.features[0].weight, other.net.features[0].weight)


@pytest.fixture(scope="module")
def python_fit(tmp_path_factory: pytest.TempPathFactory) -> tuple[L.Trainer, MNISTClassifier, MNISTDataModule]:
    """A fit built in Python, as Lightning's docs teach: network, optimizer and augmentation are objects."""
    L.seed_everything(0)
    model = MNISTClassifier(LeNet(), optimizer=lambda params: torch.optim.SGD(params, lr=0.05, momentum=0.9))
    dm = MNISTDataModule(data_dir=str(REPO / "data"), augment=RandomAffine(degrees=5.0))
    limits = {"limit_train_batches": 20, "limit_val_batches": 2, "limit_test_batches": 2}
    trainer = L.Trainer(
        max_epochs=1, default_root_dir=tmp_path_factory.mktemp("fit"), enable_progress_bar=False, **limits
    )
    trainer.fit(model, datamodule=dm)
    return trainer, model, dm


def test_a_fit_in_python_writes_checkpoints_lightning_loads_as_weights_only(python_fit: tuple) -> None:
    """The objects were pickled into each checkpoint, which a weights-only load refused, and into hparams.yaml
    (2.9 MB of tagged YAML): left out, the network is given again, as Lightning documents."""
    trainer, model, dm = python_fit
    best = trainer.checkpoint_callback.best_model_path
    assert yaml.safe_load((Path(trainer.log_dir) / "hparams.yaml").read_text())["batch_size"] == 64
    loaded = MNISTClassifier.load_from_checkpoint(
        best, map_location="cpu", net=LeNet()
    )  # torch.load's weights_only default
    # Bytes flipped in a weight: loaded without a word (torch.load checks no CRC), and tested at chance.
    damaged = Path(trainer.log_dir) / "damaged.ckpt"
    damaged.write_bytes(flipped(Path(best).read_bytes(), "4"))
    with pytest.raises(UserError, match=r"damaged \(its part data/4 reads back wrong\)"):
        MNISTClassifier.load_from_checkpoint(damaged, map_location="cpu", net=LeNet())
    with pytest.raises(UserError, match=r"damaged \(its part data/4 reads back wrong\)"):
        trainer.test(model, datamodule=dm, ckpt_path=damaged)
    # Without net=: Lightning's TypeError, "__init__() missing 1 required positional argument: 'net'".
    with pytest.raises(UserError, match=r"names no network \(saved from a module built in Python\): give it, "):
        MNISTClassifier.load_from_checkpoint(best, map_location="cpu")
    assert all(torch.equal(t, model.net.state_dict()[name]) for name, t in loaded.net.state_dict().items())
    assert MNISTDataModule.load_from_checkpoint(best).hparams.val_size == 5000
    assert trainer.test(datamodule=dm, ckpt_path="best")[0]["test/acc"] > 0.3  # chance: 0.1
    # export rebuilds the app's default network for a checkpoint that names none, as test does.
    output = Path(trainer.log_dir) / "best.pt"
    export.main(
        [
            "--ckpt_path",
            best,
            "--format",
            "torchscript",
            "--output",
            str(output),
            "--data.data_dir",
            dm.hparams.data_dir,
        ]
    )
    pixels = torch.randint(0, 256, (8, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():  # the checkpoint's weights in it, not a new network's
        expected = loaded.eval()(dm.normalize(pixels))
        assert torch.allclose(torch.jit.load(output)(pixels.unsqueeze(1) / 255), expected, atol=1e-5)


def test_a_checkpoint_is_evaluated_on_its_own_split_and_normalisation(python_fit: tuple) -> None:
    """The CLI takes them from the checkpoint; a data module built in Python with others was used without a word
    (validation images it had trained on; 87.5% instead of 92% with another normalisation, in an audit)."""
    trainer, model, _ = python_fit
    best, data = trainer.checkpoint_callback.best_model_path, str(REPO / "data")
    with pytest.raises(UserError, match=r"^--data\.split_seed 1: the checkpoint was trained with 42"):
        trainer.validate(model, datamodule=MNISTDataModule(data_dir=data, split_seed=1), ckpt_path=best)
    with pytest.raises(UserError, match=r"^--data\.mean 0\.5: the checkpoint was trained with 0\.1307"):
        trainer.test(model, datamodule=MNISTDataModule(data_dir=data, mean=0.5), ckpt_path=best)
    with pytest.raises(UserError, match=r"^--data\.std 1\.0: the checkpoint was trained with 0\.3081"):
        trainer.test(model, datamodule=MNISTDataModule(data_dir=data, std=1.0), ckpt_path=best)
    # The test images are the same whatever the split.
    (other_split,) = trainer.test(model, datamodule=MNISTDataModule(data_dir=data, split_seed=1), ckpt_path=best)
    (own_split,) = trainer.test(model, datamodule=MNISTDataModule(data_dir=data), ckpt_path=best)
    assert other_split["test/acc"] == own_split["test/acc"] > 0.5


@pytest.mark.parametrize("t_max", [1, 2])
def test_a_cosine_shorter_than_the_run_is_warned_about(t_max: int, recwarn: pytest.WarningsRecorder) -> None:
    """bncnn.yaml's T_max must follow --trainer.max_epochs by hand; a user who changes only the epochs hears of it."""
    scheduler = partial(torch.optim.lr_scheduler.CosineAnnealingLR, T_max=t_max)
    trainer = L.Trainer(max_epochs=2, limit_train_batches=1, limit_val_batches=0, logger=False, **QUIET)
    trainer.fit(MNISTClassifier(LeNet(), scheduler=scheduler), datamodule=MNISTDataModule(data_dir=str(REPO / "data")))
    warned = [str(w.message) for w in recwarn if "T_max" in str(w.message)]
    expected = [
        "--model.scheduler.init_args.T_max 1 < --trainer.max_epochs 2: the cosine lr rises again after "
        "epoch 1; give T_max 2 to anneal over the whole run"
    ]
    assert warned == (expected if t_max == 1 else [])


@pytest.mark.parametrize(
    "one_cycle",
    [
        partial(torch.optim.lr_scheduler.OneCycleLR, max_lr=0.1),  # what jsonargparse gives, less total_steps
        lambda optimizer: torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=3),
    ],
)
def test_a_one_cycle_schedule_built_in_python_steps_per_batch(one_cycle: Any) -> None:
    """As configs/fast.yaml's: given the run's steps where it takes them, stepped after every optimizer step (3 of
    6 batches, 2 accumulated a step). A partial without total_steps failed in torch, a lambda's schedule was
    stepped once per epoch."""
    trainer = L.Trainer(
        max_epochs=1, limit_train_batches=6, accumulate_grad_batches=2, limit_val_batches=0, logger=False, **QUIET
    )
    trainer.fit(MNISTClassifier(LeNet(), scheduler=one_cycle), datamodule=MNISTDataModule(data_dir=str(REPO / "data")))
    config = trainer.lr_scheduler_configs[0]
    assert config.interval == "step" and config.scheduler.total_steps == 3 and config.scheduler.last_epoch == 3


def test_a_cyclic_schedule_steps_per_batch() -> None:
    # torch steps CyclicLR after every batch, its step_size_up counting them: it was stepped once per
    # epoch, the default cycle (2,000 steps up and down) lasting 4,000 epochs.
    cyclic = partial(torch.optim.lr_scheduler.CyclicLR, base_lr=0.001, max_lr=0.1, step_size_up=2)
    trainer = L.Trainer(max_epochs=1, limit_train_batches=3, limit_val_batches=0, logger=False, **QUIET)
    trainer.fit(MNISTClassifier(LeNet(), scheduler=cyclic), datamodule=MNISTDataModule(data_dir=str(REPO / "data")))
    config = trainer.lr_scheduler_configs[0]
    assert config.interval == "step" and config.scheduler.last_epoch == 3


def test_a_total_steps_given_is_kept_and_one_the_run_outlasts_refused() -> None:
    # It was replaced by the run's without a word; a schedule shorter than the run ends it in torch's
    # ValueError once the schedule is over, mid-epoch.
    dm = MNISTDataModule(data_dir=str(REPO / "data"))
    longer = partial(torch.optim.lr_scheduler.OneCycleLR, max_lr=0.1, total_steps=5)
    trainer = L.Trainer(max_epochs=1, limit_train_batches=3, limit_val_batches=0, logger=False, **QUIET)
    trainer.fit(MNISTClassifier(LeNet(), scheduler=longer), datamodule=dm)
    assert trainer.lr_scheduler_configs[0].scheduler.total_steps == 5
    exact = partial(torch.optim.lr_scheduler.OneCycleLR, max_lr=0.1, total_steps=3)  # the run's own: kept too
    trainer = L.Trainer(max_epochs=1, limit_train_batches=3, limit_val_batches=0, logger=False, **QUIET)
    trainer.fit(MNISTClassifier(LeNet(), scheduler=exact), datamodule=dm)
    assert trainer.lr_scheduler_configs[0].scheduler.total_steps == 3 and trainer.global_step == 3
    shorter = partial(torch.optim.lr_scheduler.OneCycleLR, max_lr=0.1, total_steps=2)
    trainer = L.Trainer(max_epochs=1, limit_train_batches=3, limit_val_batches=0, logger=False, **QUIET)
    with pytest.raises(UserError, match=r"^--model.scheduler.init_args.total_steps 2: this run takes 3 steps"):
        trainer.fit(MNISTClassifier(LeNet(), scheduler=shorter), datamodule=dm)
    # One cycle over an optimizer without momentum (example.yaml's Adadelta): torch's words, and the fix.
    one_cycle = partial(torch.optim.lr_scheduler.OneCycleLR, max_lr=1.0)
    trainer = L.Trainer(max_epochs=1, limit_train_batches=3, limit_val_batches=0, logger=False, **QUIET)
    with pytest.raises(UserError, match=r"cycle_momentum. option enabled: give --model.scheduler.init_args.cycle_m"):
        trainer.fit(MNISTClassifier(LeNet(), torch.optim.Adadelta, scheduler=one_cycle), datamodule=dm)


def test_a_python_checkpoints_optimizer_is_compared_as_set_and_as_scheduled() -> None:
    """A fit from a checkpoint of a module built in Python (no optimizer in its hyperparameters): betas saved as a
    list are torch's tuple, and a scheduled lr is where the schedule got to, not another lr (each was refused);
    an lr of 0 is refused before any fit (a mutation audit)."""
    with pytest.raises(UserError, match=r"^--model.optimizer.init_args.lr 0: must be > 0"):
        optim.refuse_bad_settings(MNISTClassifier(MinimalCNN(), optimizer=partial(torch.optim.SGD, lr=0)))

    def checkpoint(optimizer: torch.optim.Optimizer, scheduled: bool, **group: Any) -> dict:
        saved = {**optimizer.state_dict()["param_groups"][0], **group}
        return {
            "hyper_parameters": {},
            "optimizer_states": [{"param_groups": [saved]}],
            "lr_schedulers": [{}] * scheduled,
        }

    step_lr = partial(torch.optim.lr_scheduler.StepLR, step_size=1)
    sgd = MNISTClassifier(MinimalCNN(), optimizer=partial(torch.optim.SGD, lr=0.01), scheduler=step_lr)
    decayed = checkpoint(torch.optim.SGD(sgd.parameters(), lr=0.01), scheduled=True, lr=0.005)
    optim.refuse_another_optimizer(sgd, decayed, "p.ckpt")
    with pytest.raises(UserError, match=r"^--model.optimizer.init_args.lr 0.01: p.ckpt was trained with lr 0.005"):
        optim.refuse_another_optimizer(sgd, {**decayed, "lr_schedulers": []}, "p.ckpt")
    adam = MNISTClassifier(MinimalCNN(), optimizer=torch.optim.Adam)
    optim.refuse_another_optimizer(
        adam, checkpoint(torch.optim.Adam(adam.parameters()), False, betas=[0.9, 0.999]), "p"
    )
    # fit --ckpt_path of such a checkpoint: its schedule, as from Python (test_a_python_fit_from_a_cli_checkpoint_...)
    held = torch.optim.lr_scheduler.StepLR(torch.optim.SGD(sgd.parameters(), lr=0.01), step_size=1, gamma=0.1)
    scheduled = {**decayed, "lr_schedulers": [held.state_dict()]}
    plain_sgd = MNISTClassifier(MinimalCNN(), optimizer=partial(torch.optim.SGD, lr=0.01))
    with pytest.raises(
        UserError, match=r"^--model\.scheduler null: p\.ckpt holds the state of a schedule \(step_size 1, "
    ):
        optim.refuse_another_optimizer(plain_sgd, scheduled, "p.ckpt")
    every_5 = MNISTClassifier(
        MinimalCNN(), optimizer=partial(torch.optim.SGD, lr=0.01), scheduler=partial(step_lr, step_size=5)
    )
    with pytest.raises(
        UserError, match=r"^--model\.scheduler\.init_args\.step_size 5: p\.ckpt was trained with step_size 1"
    ):
        optim.refuse_another_optimizer(every_5, scheduled, "p.ckpt")
    optim.refuse_another_optimizer(sgd, scheduled, "p.ckpt")  # its own: step_size 1, gamma torch's 0.1
    # Under a schedule of the optimizer's lr, the lr it was built with is compared (its initial_lr), not where the
    # schedule got to: another lr was the checkpoint's without a word (a docs audit).
    optimizer = torch.optim.SGD(sgd.parameters(), lr=0.01)
    step_lr_built = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    optimizer.step()
    step_lr_built.step()  # the lr now 0.005
    stepped = {"optimizer_states": [optimizer.state_dict()], "lr_schedulers": [step_lr_built.state_dict()]}
    given = MNISTClassifier(MinimalCNN(), optimizer=partial(torch.optim.SGD, lr=0.03), scheduler=step_lr)
    with pytest.raises(
        UserError, match=r"^--model\.optimizer\.init_args\.lr 0\.03: p\.ckpt was trained with lr 0\.01,"
    ):
        optim.refuse_another_optimizer(given, stepped, "p.ckpt")
    optim.refuse_another_optimizer(sgd, stepped, "p.ckpt")  # lr 0.01, as built
    # A review: jsonargparse's partial gives every default, and a run fills total_steps (None) in: a CLI run's
    # one-cycle checkpoint fitted from Python was refused for "total_steps=None"; CyclicLR's state holds scale_mode
    # as derived from its mode, not as given.
    for schedule, given in (
        (partial(torch.optim.lr_scheduler.OneCycleLR, max_lr=0.02, total_steps=10), {"total_steps": None}),
        (partial(torch.optim.lr_scheduler.CyclicLR, base_lr=0.001, max_lr=0.01, mode="exp_range"), {}),
    ):
        sgd_momentum = partial(torch.optim.SGD, lr=0.01, momentum=0.9)
        built = schedule(torch.optim.SGD(MinimalCNN().parameters(), lr=0.01, momentum=0.9))
        as_given = partial(schedule.func, **inspect_defaults(schedule.func) | schedule.keywords | given)
        module = MNISTClassifier(MinimalCNN(), optimizer=sgd_momentum, scheduler=as_given)
        groups = built.optimizer.state_dict()["param_groups"]
        optim.refuse_another_optimizer(
            module, {"optimizer_states": [{"param_groups": groups}], "lr_schedulers": [built.state_dict()]}, "p.ckpt"
        )
    # Another class of the same settings' names trained on without a word: Adam's state in RAdam (which lacks
    # amsgrad), AdamW's in Adam (decoupled_weight_decay, torch 2.x's one difference).
    for given, trained in ((torch.optim.RAdam, torch.optim.Adam), (torch.optim.Adam, torch.optim.AdamW)):
        module = MNISTClassifier(MinimalCNN(), optimizer=partial(given, weight_decay=0.01))
        groups = trained(module.parameters(), weight_decay=0.01).state_dict()["param_groups"]
        with pytest.raises(UserError, match=r"^--model\.optimizer(\.init_args\.decoupled_weight_decay)? "):
            optim.refuse_another_optimizer(module, {"optimizer_states": [{"param_groups": groups}]}, "p.ckpt")


def inspect_defaults(cls: type) -> dict[str, Any]:
    """The arguments of ``cls`` that have defaults, as jsonargparse's partial of a class gives them all."""
    return {
        name: p.default
        for name, p in inspect.signature(cls).parameters.items()
        if p.default is not inspect.Parameter.empty
    }


class WarmupLinear(torch.optim.lr_scheduler.LambdaLR):
    """A schedule of one's own over the run's steps, which it keeps to itself."""

    def __init__(self, optimizer: torch.optim.Optimizer, total_steps: int) -> None:
        super().__init__(optimizer, lambda step: 1 - step / total_steps)


def test_a_schedule_class_taking_total_steps_steps_per_batch() -> None:
    trainer = L.Trainer(max_epochs=1, limit_train_batches=3, limit_val_batches=0, logger=False, **QUIET)
    trainer.fit(
        MNISTClassifier(LeNet(), scheduler=WarmupLinear), datamodule=MNISTDataModule(data_dir=str(REPO / "data"))
    )
    config = trainer.lr_scheduler_configs[0]
    assert config.interval == "step" and config.scheduler.last_epoch == 3


def test_a_cosine_built_by_a_lambda_is_checked_too(recwarn: pytest.WarningsRecorder) -> None:
    cosine = lambda optimizer: torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=1)  # noqa: E731
    trainer = L.Trainer(max_epochs=2, limit_train_batches=1, limit_val_batches=0, logger=False, **QUIET)
    trainer.fit(MNISTClassifier(LeNet(), scheduler=cosine), datamodule=MNISTDataModule(data_dir=str(REPO / "data")))
    warned = [str(w.message) for w in recwarn if "T_max" in str(w.message)]
    assert len(warned) == 1 and warned[0].startswith("--model.scheduler.init_args.T_max 1 < --trainer.max_epochs 2")


class ValidationPoints(L.Callback):
    """(val/acc, val/acc_best) after each validation of the fit, the sanity check left out."""

    def __init__(self) -> None:
        self.points: list[tuple[float, float]] = []

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.sanity_checking:
            self.points.append(
                (trainer.callback_metrics["val/acc"].item(), trainer.callback_metrics["val/acc_best"].item())
            )


def fit_points(model: MNISTClassifier, tmp_path: Path) -> list[tuple[float, float]]:
    """Two epochs of 15 batches, validated on 2,000 images; what each validation logged."""
    L.seed_everything(0)
    points = ValidationPoints()
    trainer = L.Trainer(
        max_epochs=2,
        limit_train_batches=15,
        limit_val_batches=2,
        logger=False,
        default_root_dir=tmp_path,
        callbacks=[points],
        **QUIET,
    )
    trainer.fit(model, datamodule=MNISTDataModule(data_dir=str(REPO / "data")))
    return points.points


class StepLosses(L.Callback):
    """Each training batch's loss, in step order."""

    def __init__(self) -> None:
        self.losses: list[float] = []

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, *args: Any) -> None:
        self.losses.append(outputs["loss"].item())


def test_the_step_loss_logged_is_that_steps_own(tmp_path: Path) -> None:
    """The step loss is logged only at the steps the logger writes: each point is its own step's loss."""
    L.seed_everything(0)
    recorded = StepLosses()
    trainer = L.Trainer(
        max_epochs=1,
        limit_train_batches=7,
        limit_val_batches=0,
        log_every_n_steps=3,
        logger=L.pytorch.loggers.CSVLogger(tmp_path),
        callbacks=[recorded],
        default_root_dir=tmp_path,
        **QUIET,
    )
    trainer.fit(MNISTClassifier(MinimalCNN()), datamodule=MNISTDataModule(data_dir=str(REPO / "data")))
    with open(Path(trainer.logger.log_dir) / "metrics.csv") as file:
        rows = [row for row in csv.DictReader(file) if row["train/loss_step"]]
    logged = {int(row["step"]): float(row["train/loss_step"]) for row in rows}
    assert logged.keys() == {2, 5}  # steps 3 and 6, counted from 1
    assert logged == pytest.approx({step: recorded.losses[step] for step in logged}, rel=1e-6), recorded.losses


def test_a_second_fit_of_a_fitted_model_has_a_best_of_its_own(python_fit: tuple, tmp_path: Path) -> None:
    """From Python, a model fitted before (or loaded from a checkpoint) kept that fit's val/acc_best."""
    _, model, dm = python_fit
    assert model.val_acc_best.compute() > 0.3
    wrecked = copy.deepcopy(model)
    wrecked.optimizer = partial(torch.optim.SGD, lr=50.0)
    trainer = L.Trainer(max_epochs=1, limit_train_batches=5, limit_val_batches=2, logger=False, **QUIET)
    trainer.fit(wrecked, datamodule=dm)
    metrics = trainer.callback_metrics
    assert metrics["val/acc"] < 0.3 and metrics["val/acc_best"] == metrics["val/acc"]


def test_a_model_loaded_in_python_is_evaluated_on_the_data_it_learned_from(python_fit: tuple) -> None:
    """Loaded with load_from_checkpoint and tested with another normalisation, a network scored 46.9% for its
    48.7%, without a word (an audit); given as ckpt_path, the checkpoint was refused. A fit of it (fine-tuning)
    learns the data it is given, and is then evaluated on that."""
    trainer, _, _ = python_fit
    best, data = trainer.checkpoint_callback.best_model_path, str(REPO / "data")
    loaded = MNISTClassifier.load_from_checkpoint(best, net=LeNet(), map_location="cpu")
    limits = {f"limit_{stage}_batches": 1 for stage in ("train", "val", "test", "predict")}
    quick = L.Trainer(max_epochs=1, logger=False, **limits, **QUIET)
    with pytest.raises(UserError, match=r"^--data\.mean 0\.5: the checkpoint was trained with 0\.1307"):
        quick.test(loaded, datamodule=MNISTDataModule(data_dir=data, mean=0.5))
    with pytest.raises(UserError, match=r"^--data\.std 1\.0: the checkpoint was trained with 0\.3081"):
        quick.predict(loaded, datamodule=MNISTDataModule(data_dir=data, std=1.0))
    with pytest.raises(UserError, match=r"^--data\.split_seed 1: the checkpoint was trained with 42"):
        quick.validate(loaded, datamodule=MNISTDataModule(data_dir=data, split_seed=1))
    assert quick.test(loaded, datamodule=MNISTDataModule(data_dir=data))[0]["test/acc"] > 0.3  # chance: 0.1
    other = MNISTDataModule(data_dir=data, mean=0.5, std=0.5)
    quick.fit(loaded, datamodule=other)
    quick.test(loaded, datamodule=other)


@pytest.mark.parametrize("net", [BatchNormCNN, ExampleNet])
def test_building_the_model_leaves_its_network_and_the_random_state_as_they_were(net: type) -> None:
    """The network is run once on a blank image to check its outputs: in training mode that moved batch norm's
    running statistics and drew dropout masks from the seeded generator (a mutation audit)."""
    built = net()
    before, rng = {key: value.clone() for key, value in built.state_dict().items()}, torch.get_rng_state()
    MNISTClassifier(built)
    assert built.training and torch.equal(torch.get_rng_state(), rng)
    for key, value in built.state_dict().items():
        assert torch.equal(value, before[key]), key


@pytest.mark.parametrize(
    "net", [c for _, c in inspect.getmembers(nets, inspect.isclass) if c.__module__ == nets.__name__]
)
def test_every_network_returns_as_many_scores_as_its_classes(net: type) -> None:
    """The CLI runs 10 classes only; from Python a network of 7 gave 7 (TwoConvNet's last layer was once not
    read in a mutation audit: 10)."""
    assert net(num_classes=7).eval()(torch.zeros(2, 1, 28, 28)).shape == (2, 7)


def test_objects_and_numbers_of_the_wrong_kind_from_python_are_refused_in_words() -> None:
    """The CLI's types refuse them; from Python they were taken, and failed in the fit's first batch, in
    tracebacks (an audit)."""
    net = MinimalCNN()
    built = torch.optim.lr_scheduler.StepLR(torch.optim.SGD(net.parameters(), lr=0.1), step_size=1)
    whole, seeds = "from 1 to 9223372036854775807", "from -9223372036854775808 to 9223372036854775807"
    cpus = len(os.sched_getaffinity(0))
    for build, error in (
        (lambda: MNISTDataModule(augment=RandomAffine), "--data.augment RandomAffine: the class, not a transform"),
        (lambda: MNISTDataModule(augment="flip"), "--data.augment 'flip': not a transform (a torch.nn.Module"),
        (lambda: MNISTDataModule(batch_size=0), f"--data.batch_size 0: expected an int {whole}"),
        # True was batches of 1, "0.5" a mean of 0.5, without a word (a mutation audit)
        (lambda: MNISTDataModule(batch_size=True), "--data.batch_size True: expected an int"),
        (lambda: MNISTDataModule(mean="0.5"), "--data.mean '0.5': expected a number"),
        (lambda: MNISTDataModule(eval_batch_size=2**63), f"--data.eval_batch_size {2**63}: expected an int {whole}"),
        (lambda: MNISTDataModule(split_seed=2**64), f"--data.split_seed {2**64}: expected an int {seeds}"),
        (lambda: MNISTDataModule(shuffle_seed=-(2**64)), f"--data.shuffle_seed {-(2**64)}: expected an int {seeds}"),
        (lambda: MNISTDataModule(num_workers=-1), "--data.num_workers -1: expected an int >= 0"),
        (lambda: MNISTDataModule(split_seed=None), "--data.split_seed None: expected an int from"),
        (lambda: MNISTDataModule(num_workers=None), "--data.num_workers None: expected an int >= 0"),
        # 10,000 hung the fit until the kernel killed it for memory (an audit)
        (lambda: MNISTDataModule(num_workers=cpus + 1), f"--data.num_workers {cpus + 1}: more than the {cpus} CPUs"),
        # A TypeError of >=, and None taken for false (a review)
        (lambda: MNISTDataModule(val_size=None), "--data.val_size None: expected an int >= 0"),
        (lambda: MNISTDataModule(download=None), "--data.download None: expected true or false"),
        (lambda: MNISTClassifier(net, channels_last=None), "--model.channels_last None: expected true or false"),
        (lambda: MNISTClassifier(net, optimizer="SGD"), "--model.optimizer 'SGD': not an optimizer class"),
        (lambda: MNISTClassifier(net, scheduler=built), "--model.scheduler: a schedule already built: give its class"),
        (lambda: MNISTClassifier(net, scheduler="StepLR"), "--model.scheduler 'StepLR': not a schedule class"),
    ):
        with pytest.raises(UserError) as refused:
            build()
        assert str(refused.value).startswith(error), str(refused.value)


def test_a_path_and_numpy_numbers_from_python_leave_checkpoints_that_load(tmp_path: Path) -> None:
    """They were kept in the checkpoints' settings, which a weights-only load refused: every one of the run."""
    dm = MNISTDataModule(data_dir=REPO / "data", mean=np.float64(0.1307), val_size=np.int64(5000))
    model = MNISTClassifier(MinimalCNN(), label_smoothing=np.float64(0.1))
    quiet = {"enable_progress_bar": False, "enable_model_summary": False, "logger": False}
    trainer = L.Trainer(max_epochs=1, limit_train_batches=2, limit_val_batches=1, default_root_dir=tmp_path, **quiet)
    trainer.fit(model, datamodule=dm)
    saved = torch.load(trainer.checkpoint_callback.best_model_path, weights_only=True)
    assert saved["hyper_parameters"]["label_smoothing"] == 0.1
    settings = saved["datamodule_hyper_parameters"]
    assert (settings["data_dir"], settings["mean"], settings["val_size"]) == (str(REPO / "data"), 0.1307, 5000)


def test_raw_batches_and_bad_settings_from_python_are_refused_in_words(python_fit: tuple) -> None:
    _, model, dm = python_fit
    trainer = L.Trainer(limit_test_batches=1, logger=False, **QUIET)
    with pytest.raises(UserError, match=r"raw uint8 pixels: .* datamodule=dm \(not one of its loaders\)"):
        trainer.test(model, dataloaders=dm.test_dataloader())  # not normalised: that is the data module's hook
    fresh = MNISTDataModule(data_dir=str(REPO / "data"))  # not set up: a TypeError about NoneType
    with pytest.raises(UserError, match=r"test_dataloader\(\): its split is not loaded: call dm.setup\('test'\) first"):
        fresh.test_dataloader()
    with pytest.raises(UserError, match=r"predict_dataloader\(\): its split is not loaded: call dm.setup\('predict'\)"):
        fresh.predict_dataloader()
    negative = MNISTClassifier(MinimalCNN(), scheduler=partial(torch.optim.lr_scheduler.StepLR, step_size=1, gamma=-1))
    with pytest.raises(UserError, match=r"^--model\.scheduler\.init_args\.gamma -1: the lr is multiplied by it"):
        L.Trainer(max_epochs=1, limit_train_batches=1, logger=False, **QUIET).fit(negative, datamodule=dm)
    for smoothing in (1.5, None):  # None: a TypeError of "<="
        with pytest.raises(UserError, match=rf"^--model\.label_smoothing {smoothing}: expected a number from 0 to 1$"):
            MNISTClassifier(MinimalCNN(), label_smoothing=smoothing)
    best = python_fit[0].checkpoint_callback.best_model_path  # a LeNet's: its class is given again from Python
    with pytest.raises(UserError, match=r"other weights than MinimalCNN .* from Python net=<that class>\(\)$"):
        MNISTClassifier.load_from_checkpoint(best, net=MinimalCNN())
    with pytest.raises(UserError, match=r"^--model\.net MinimalCNN: the class, not a network: give MinimalCNN\(\)$"):
        MNISTClassifier(MinimalCNN)
    with pytest.raises(UserError, match=r"^--model\.net None: not a network \(a torch\.nn\.Module\)"):
        MNISTClassifier(None)
    with pytest.raises(UserError, match=r"^--model\.optimizer: an optimizer already built: give its class"):
        net = MinimalCNN()
        MNISTClassifier(net, optimizer=torch.optim.SGD(net.parameters(), lr=0.1))
    with pytest.raises(UserError, match=r"^--data\.dataset 'mnist': expected one of MNIST, FashionMNIST, KMNIST$"):
        MNISTDataModule(dataset="mnist")
    with pytest.raises(UserError, match=r"^--data\.val_size 5000\.5: expected an int$"):
        MNISTDataModule(val_size=5000.5)


def test_val_acc_best_is_the_running_maximum(tmp_path: Path) -> None:
    # Epoch 1 at 1000x the learning rate (lr 1 for Adam) wrecks the network: val/acc falls, the best stays.
    wrecking = partial(torch.optim.lr_scheduler.StepLR, step_size=1, gamma=1000.0)
    L.seed_everything(0)  # the weights too: not whatever the worker's tests before this one left the RNG at
    model = MNISTClassifier(LeNet(), optimizer=partial(torch.optim.Adam, lr=1e-3), scheduler=wrecking)
    (acc0, best0), (acc1, best1) = fit_points(model, tmp_path)
    assert acc0 > 0.5 and acc1 < acc0 - 0.2
    assert (best0, best1) == (acc0, acc0)
    # In the module's state, so in its checkpoints: a resumed run goes on from its best so far.
    restored = MNISTClassifier(LeNet())
    restored.load_state_dict(model.state_dict())
    assert restored.val_acc_best.compute() == acc0


def test_accuracy_is_the_fraction_of_images_right() -> None:
    # torchmetrics' default average, macro, gives the mean of per-class accuracies: 0.5 here.
    model = MNISTClassifier(LeNet())
    preds, labels = torch.tensor([0, 0, 0, 0]), torch.tensor([0, 0, 0, 1])
    assert model.val_acc(preds, labels) == model.test_acc(preds, labels) == 0.75


def test_val_acc_best_leaves_out_the_sanity_check(trained_run: Path, tmp_path: Path) -> None:
    # A trained network (97%, the sanity check's accuracy) wrecked from the first epoch: its best is the epochs' best.
    model = MNISTClassifier.load_from_checkpoint(trained_run / "checkpoints" / "best.ckpt")
    model.val_acc_best.reset()  # the checkpoint's run's best
    model.optimizer = partial(torch.optim.Adam, lr=1.0)
    points = fit_points(model, tmp_path)
    assert points[-1][1] == max(acc for acc, _ in points) < 0.9


class BestAtTheStart(L.Callback):
    """``val_acc_best`` as training starts, after the sanity check."""

    def __init__(self) -> None:
        self.seen: list[float] = []

    def on_train_start(self, trainer: L.Trainer, pl_module: MNISTClassifier) -> None:
        self.seen.append(pl_module.val_acc_best.compute().item())


def test_a_resumed_fits_best_so_far_is_its_checkpoints_not_its_sanity_checks(tmp_path: Path) -> None:
    """A resume keeps the run's best so far (no reset): the sanity check's accuracy of the restored weights, over
    a few batches, must stay out of it (a mutation audit: dropping that guard failed no default test)."""
    dm, quiet = MNISTDataModule(data_dir=str(REPO / "data")), {**QUIET, "enable_checkpointing": True}
    short = {"limit_train_batches": 5, "limit_val_batches": 2, "logger": False, "default_root_dir": tmp_path, **quiet}
    trainer = L.Trainer(max_epochs=1, **short)
    trainer.fit(MNISTClassifier(MinimalCNN()), datamodule=dm)
    checkpoint = torch.load(trainer.checkpoint_callback.best_model_path, weights_only=True)
    checkpoint["state_dict"]["val_acc_best.max_value"] = torch.tensor(0.0)  # a best the sanity check beats
    torch.save(checkpoint, tmp_path / "low.ckpt")
    best = BestAtTheStart()
    resumed = L.Trainer(
        max_epochs=2, num_sanity_val_steps=2, callbacks=[best], **{**short, "default_root_dir": tmp_path / "on"}
    )
    resumed.fit(MNISTClassifier(MinimalCNN()), datamodule=dm, ckpt_path=tmp_path / "low.ckpt")
    assert best.seen == [0.0]


class TwoOutputs(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(784, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        scores = self.linear(x.flatten(1))
        return scores, scores


def test_a_cli_checkpoint_in_python_keeps_its_network_and_says_what_it_takes(trained_run: Path, tmp_path: Path) -> None:
    """An audit of the Python API: a CLI run's checkpoint, loaded and fine-tuned in Python, wrote checkpoints that
    named no network (load_from_checkpoint then wanted net=, the CLI took it for a LeNet built in Python); with
    another net= it was said to name none; a batch of images alone, or without their channel, and a network of
    two outputs, each ended in a traceback from inside torch, Lightning or this model's own check."""
    best = trained_run / "checkpoints" / "best.ckpt"
    model = MNISTClassifier.load_from_checkpoint(best, map_location="cpu")
    assert model.hparams.net["class_path"] == "mnist_pl.nets.LeNet"
    trainer = L.Trainer(
        max_steps=1,
        limit_val_batches=1,
        logger=False,
        default_root_dir=tmp_path,
        **QUIET | {"enable_checkpointing": True},
    )
    trainer.fit(model, datamodule=MNISTDataModule(data_dir=str(REPO / "data")))
    tuned = MNISTClassifier.load_from_checkpoint(trainer.checkpoint_callback.best_model_path)  # no net=
    assert isinstance(tuned.net, LeNet) and all(
        map(torch.equal, tuned.state_dict().values(), model.state_dict().values())
    )
    with pytest.raises(UserError, match=r"other weights than MinimalCNN .* it names its own network, a CLI run's: "):
        MNISTClassifier.load_from_checkpoint(best, net=MinimalCNN())
    images = MNISTDataModule().normalize(torch.zeros(4, 28, 28, dtype=torch.uint8))
    with pytest.raises(UserError, match=r"^MNISTClassifier: images of shape \(4, 28, 28\): give \(N, 1, 28, 28\)"):
        tuned(images.squeeze(1))
    alone = L.Trainer(logger=False, **QUIET).predict(tuned, torch.utils.data.DataLoader(images, batch_size=2))
    assert [tuple(p.shape) for p in alone] == [(2, 10), (2, 10)]
    with pytest.raises(UserError, match=r"^--model\.net TwoOutputs: fails on a 1x28x28 image \(it returns a tuple, "):
        MNISTClassifier(TwoOutputs())


def test_a_python_fit_from_a_cli_checkpoint_takes_the_optimizer_it_holds(trained_run: Path, tmp_path: Path) -> None:
    """An audit of the Python API: Lightning loads a checkpoint's optimizer state into whichever optimizer the
    module builds. The default Adam over lenet.yaml's SGD state ended in torch's KeyError 'step' traceback, and
    SGD of another lr trained on with the checkpoint's lr without a word. A class given for the network, or None,
    ended in a jsonargparse traceback ("required arguments: module.net"). A subclass's own configure_optimizers is
    its own (an audit: the first fix refused it, for the default Adam it never built)."""
    best = trained_run / "checkpoints" / "best.ckpt"
    dm = MNISTDataModule(data_dir=str(REPO / "data"))

    def fit(optimizer: Any, ckpt: Path = best) -> L.Trainer:
        trainer = L.Trainer(max_epochs=2, limit_train_batches=2, limit_val_batches=1, logger=False, **QUIET)
        trainer.fit(MNISTClassifier(LeNet(), optimizer=optimizer), datamodule=dm, ckpt_path=ckpt)
        return trainer

    sgd = "lr=0.01, momentum=0.9, dampening=0.0, weight_decay=0.0, nesterov=False"
    adam = (  # the class and settings its run was given, which a partial takes (not its state's: initial_lr, ...)
        f"MNISTClassifier's optimizer torch.optim.Adam: {best} holds the state of torch.optim.SGD ({sgd}): give it, "
        f"optimizer=functools.partial(torch.optim.SGD, {sgd})"
    )
    with pytest.raises(UserError, match=f"^{re.escape(adam)}$"):
        fit(torch.optim.Adam)
    other = (
        f"MNISTClassifier's optimizer lr=0.5: {best} was trained with lr=0.01, and a fit from it goes on with it: "
        "give lr=0.01 in the optimizer's functools.partial"
    )
    with pytest.raises(UserError, match=f"^{re.escape(other)}$"):
        fit(partial(torch.optim.SGD, lr=0.5, momentum=0.9))
    assert fit(partial(torch.optim.SGD, lr=0.01, momentum=0.9)).optimizers[0].param_groups[0]["lr"] == 0.01
    # A checkpoint of a module built in Python names no class: the one torch.optim class its settings fit is named,
    # with the settings that are not its defaults (it said "give the one it was trained with"); none for its own.
    in_python = torch.load(best, weights_only=True)
    del in_python["hyper_parameters"]["optimizer"]
    ckpt = tmp_path / "python.ckpt"
    torch.save(in_python, ckpt)
    sgd = "lr=0.01, momentum=0.9"
    named = (
        f"MNISTClassifier's optimizer torch.optim.Adam: {ckpt} holds the state of torch.optim.SGD ({sgd}): give it, "
        f"optimizer=functools.partial(torch.optim.SGD, {sgd})"
    )
    with pytest.raises(UserError, match=f"^{re.escape(named)}$"):
        fit(torch.optim.Adam, ckpt)
    in_python["optimizer_states"][0]["param_groups"][0]["own_setting"] = 1  # of a user's own optimizer class
    torch.save(in_python, ckpt)
    own = (
        f"MNISTClassifier's optimizer torch.optim.Adam: {ckpt} holds the state of another optimizer (its state holds "
        "lr=0.01, momentum=0.9, dampening=0.0, weight_decay=0.0, nesterov=False, own_setting=1): give the one it was "
        "trained with, and those settings"
    )
    with pytest.raises(UserError, match=f"^{re.escape(own)}$"):
        fit(torch.optim.Adam, ckpt)
    # A schedule's state with none given was dropped without a word (Lightning zips the two lists), and a schedule
    # given where the checkpoint holds none started from its beginning in the middle of the run (an audit).
    scheduled = torch.load(best, weights_only=True)
    optimizer = torch.optim.SGD(LeNet().parameters(), lr=0.01, momentum=0.9)
    scheduled["lr_schedulers"] = [torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.1).state_dict()]
    torch.save(scheduled, tmp_path / "scheduled.ckpt")
    step_lr = partial(torch.optim.lr_scheduler.StepLR, step_size=1, gamma=0.1)
    trainer = L.Trainer(max_epochs=2, limit_train_batches=2, limit_val_batches=1, logger=False, **QUIET)
    without = (
        f"MNISTClassifier's scheduler None: {tmp_path / 'scheduled.ckpt'} holds the state of a schedule (its state "
        "holds step_size=1, gamma=0.1), which a fit without one drops: give the one it was trained with, and those "
        "settings"
    )
    sgd = partial(torch.optim.SGD, lr=0.01, momentum=0.9)
    with pytest.raises(UserError, match=f"^{re.escape(without)}$"):
        trainer.fit(MNISTClassifier(LeNet(), optimizer=sgd), datamodule=dm, ckpt_path=tmp_path / "scheduled.ckpt")
    given = (
        f"MNISTClassifier's scheduler torch.optim.lr_scheduler.StepLR: {best} was trained without a schedule, and "
        "a fit from it goes on as it was trained: leave it out (or fit the loaded weights as a new run, without "
        "ckpt_path)"
    )
    with pytest.raises(UserError, match=f"^{re.escape(given)}$"):
        trainer.fit(MNISTClassifier(LeNet(), optimizer=sgd, scheduler=step_lr), datamodule=dm, ckpt_path=best)
    # A setting given that the schedule's state holds was the state's: StepLR's load_state_dict (an audit).
    other = (
        f"MNISTClassifier's scheduler step_size=5: {tmp_path / 'scheduled.ckpt'} was trained with step_size=1, and a "
        "fit from it goes on with it: give step_size=1 in the scheduler's functools.partial"
    )
    every_5 = partial(torch.optim.lr_scheduler.StepLR, step_size=5, gamma=0.1)
    with pytest.raises(UserError, match=f"^{re.escape(other)}$"):
        trainer.fit(
            MNISTClassifier(LeNet(), optimizer=sgd, scheduler=every_5),
            datamodule=dm,
            ckpt_path=tmp_path / "scheduled.ckpt",
        )

    class OwnOptimizer(MNISTClassifier):  # Lightning's way: its optimizer is configure_optimizers', not the default's
        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.SGD(self.parameters(), lr=0.01, momentum=0.9)

    trainer = L.Trainer(max_epochs=2, limit_train_batches=2, limit_val_batches=1, logger=False, **QUIET)
    trainer.fit(OwnOptimizer(LeNet()), datamodule=dm, ckpt_path=best)  # it was refused, for the default Adam
    assert trainer.global_step > torch.load(best, weights_only=True)["global_step"]
    with pytest.raises(UserError, match=r"^--model\.net LeNet: the class, not a network: give LeNet\(\)$"):
        MNISTClassifier.load_from_checkpoint(best, net=LeNet)
    with pytest.raises(UserError, match=r"^--model\.net None: not a network \(a torch\.nn\.Module\)"):
        MNISTClassifier.load_from_checkpoint(best, net=None)


def test_a_cli_checkpoints_overrides_in_python_are_checked_in_one_line(trained_run: Path, tmp_path: Path) -> None:
    """An audit of the Python API: a bad override of a CLI run's setting in load_from_checkpoint was jsonargparse's
    ArgumentError, 80-155 lines, where a Python-built checkpoint's is one line; a keyword the class does not take
    (lr=0.5, chanels_last=True) was dropped by Lightning without a word."""
    best = trained_run / "checkpoints" / "best.ckpt"
    for kwargs, expected in (
        ({"label_smoothing": 2.0}, r"--model\.label_smoothing 2\.0: expected a number from 0 to 1$"),
        ({"scheduler": 3}, r"--model\.scheduler 3: not a schedule class or function of the optimizer"),
        ({"lr": 0.5}, r"MNISTClassifier\.load_from_checkpoint\(lr=0\.5\): not an argument of MNISTClassifier: give "),
    ):
        with pytest.raises(UserError, match=f"^{expected}"):
            MNISTClassifier.load_from_checkpoint(best, **kwargs)
    with pytest.raises(UserError, match=r"^--data\.batch_size 0: expected an int from 1 to "):
        MNISTDataModule.load_from_checkpoint(best, batch_size=0)
    with pytest.raises(UserError, match=r"^MNISTDataModule\.load_from_checkpoint\(batchsize=5\): not an argument "):
        MNISTDataModule.load_from_checkpoint(best, batchsize=5)
    assert MNISTDataModule.load_from_checkpoint(best, batch_size=32).hparams.batch_size == 32
    # An exported model given for its checkpoint: torch's "failed locating file data.pkl ... your checkpoint file is
    # corrupted", or for ONNX an UnpicklingError of 30-40 lines (the CLI said it in one line).
    write_onnx_model(tmp_path / "model.onnx")
    with pytest.raises(UserError, match=r": an exported ONNX model, not a checkpoint: give the \.ckpt it was exported"):
        MNISTClassifier.load_from_checkpoint(tmp_path / "model.onnx")
    assert not MNISTClassifier.load_from_checkpoint(best, map_location="cpu", channels_last=False).hparams.channels_last
    # A review: a subclass's **kwargs takes any keyword, as Lightning hands it; a network's class path, or its config,
    # is taken (only a class or None is refused).

    class Tuned(MNISTClassifier):
        def __init__(self, extra: int = 1, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.extra = extra

    assert Tuned.load_from_checkpoint(best, label_smoothing=0.2, extra=2).extra == 2
    assert isinstance(MNISTClassifier.load_from_checkpoint(best, net="mnist_pl.nets.LeNet").net, LeNet)


def minimal_fit(tmp_path: Path, *args: str) -> MNISTCLI:
    config, data, logs = REPO / "configs" / "minimal.yaml", REPO / "data", tmp_path
    quick = ["--trainer.limit_train_batches=5", "--trainer.limit_val_batches=2", "--trainer.limit_test_batches=2"]
    common = [f"--config={config}", f"--data.data_dir={data}", f"--trainer.logger.init_args.save_dir={logs}"]
    return MNISTCLI(args=["fit", *common, *quick, "--trainer.enable_progress_bar=false", *args])


@pytest.mark.slow  # an edge of the default suite's checks: its time (the suite neared 5 minutes)
def test_seed_everything_true_draws_a_seed_and_records_it_and_false_warns(tmp_path: Path) -> None:
    # LightningCLI's help promises a random seed; Lightning 2.6 alone seeded 0.
    seeds = []
    for _ in range(2):
        cli = minimal_fit(tmp_path, "--seed_everything=true", "--trainer.max_steps=1", "--test_after_fit=false")
        seed = cli.config.fit.seed_everything
        assert yaml.safe_load((Path(cli.trainer.log_dir) / "config.yaml").read_text())["seed_everything"] == seed
        seeds.append(seed)
    assert all(type(seed) is int for seed in seeds) and seeds[0] != seeds[1]
    with pytest.warns(UserWarning, match=r"^--seed_everything false: nothing is seeded, and no seed recorded: "):
        cli = minimal_fit(tmp_path, "--seed_everything=false", "--trainer.max_steps=1", "--test_after_fit=false")
    # Not the seed of the fits before it in this process (in its HPARAMS, and for DDP's processes to seed with).
    assert "PL_GLOBAL_SEED" not in os.environ and run_settings(cli.trainer, cli.model)["seed"] == "none"


@pytest.mark.parametrize("precision", ["64-true", "bf16-true"])
def test_true_precisions_train(precision: str, tmp_path: Path) -> None:
    """The images are cast to the weights' dtype (normalised after Lightning's own cast of the batch)."""
    cli = minimal_fit(tmp_path, f"--trainer.precision={precision}", "--trainer.max_steps=3", "--test_after_fit=false")
    assert cli.trainer.global_step == 3
    dtype = torch.float64 if precision == "64-true" else torch.bfloat16
    assert {p.dtype for p in cli.model.parameters()} == {dtype}
    assert torch.isfinite(cli.trainer.callback_metrics["train/loss"])


@pytest.mark.slow  # an edge of the default suite's checks: its time (the suite neared 5 minutes)
def test_reduce_lr_on_plateau_watches_val_loss(tmp_path: Path) -> None:
    plateau = ["--model.scheduler=torch.optim.lr_scheduler.ReduceLROnPlateau", "--model.scheduler.patience=0"]
    cli = minimal_fit(tmp_path, *plateau, "--trainer.max_epochs=3", "--test_after_fit=false")
    assert cli.trainer.lr_scheduler_configs[0].monitor == "val/loss" and cli.trainer.current_epoch == 3


def test_reduce_lr_on_plateau_steps_after_the_epochs_that_validate(tmp_path: Path) -> None:
    # Lightning stepped it after every epoch: the first one without a validation ended in its
    # MisconfigurationException (val/loss "not available"). Threshold 10: no validation improves.
    plateau = [
        "--model.scheduler=torch.optim.lr_scheduler.ReduceLROnPlateau",
        "--model.scheduler.patience=0",
        "--model.scheduler.threshold=10",
    ]
    cli = minimal_fit(
        tmp_path, *plateau, "--trainer.max_epochs=5", "--trainer.check_val_every_n_epoch=2", "--test_after_fit=false"
    )
    (monitor,) = [callback for callback in cli.trainer.callbacks if isinstance(callback, LearningRateMonitor)]
    (lrs,) = monitor.lrs.values()  # at each epoch's start
    assert [round(lr, 8) for lr in lrs] == [0.01, 0.01, 0.001, 0.001, 0.0001]


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
def test_the_output_check_runs_in_the_networks_dtype(dtype: torch.dtype) -> None:
    # It ran a float32 image, and a float64 network was refused as failing on MNIST's images.
    assert MNISTClassifier(LeNet().to(dtype))(torch.zeros(2, 1, 28, 28, dtype=dtype)).shape == (2, 10)


def test_the_output_check_keeps_each_modules_mode() -> None:
    # It runs the network once in eval mode: a part frozen in eval mode stays so, the rest trains.
    net = MinimalCNN()
    frozen = set(next(net.children()).eval().modules())
    MNISTClassifier(net)
    assert all(module.training == (module not in frozen) for module in net.modules())


def fast_fit(tmp_path: Path, *args: str) -> MNISTCLI:
    common = [f"--config={REPO / 'configs' / 'fast.yaml'}", f"--data.data_dir={REPO / 'data'}"]
    logs = f"--trainer.logger.init_args.save_dir={tmp_path}"
    return MNISTCLI(args=["fit", *common, logs, "--trainer.enable_progress_bar=false", *args])


def test_fast_recipe_steps_its_one_cycle_schedule_per_batch(tmp_path: Path) -> None:
    """configs/fast.yaml: OneCycleLR gets this run's step count and is stepped after every batch."""
    quick = ["--trainer.limit_train_batches=6", "--trainer.limit_val_batches=2", "--test_after_fit=false"]
    cli = fast_fit(tmp_path, *quick, "--trainer.log_every_n_steps=2")
    scheduler = cli.trainer.lr_scheduler_configs[0]
    assert scheduler.interval == "step" and scheduler.scheduler.total_steps == 6
    assert scheduler.scheduler.last_epoch == 6
    # Its curve in TensorBoard: the learning rate on every step the logger writes (it was once an epoch: a dot).
    (monitor,) = [callback for callback in cli.trainer.callbacks if isinstance(callback, LearningRateMonitor)]
    (lrs,) = monitor.lrs.values()
    assert len(lrs) == 3 and lrs[0] > lrs[1] > lrs[2]  # steps 1, 3, 5: the cycle's peak is at step 1.5
    # A conv of one input channel is channels-last in either layout: the others tell.
    convs = [m for m in cli.model.net.modules() if isinstance(m, torch.nn.Conv2d) and m.in_channels > 1]
    assert convs and all(c.weight.is_contiguous(memory_format=torch.channels_last) for c in convs)
    assert not all(c.weight.is_contiguous() for c in convs)


@pytest.mark.slow  # one whole epoch: 10-25 s of training on 2 CPU cores
def test_fast_recipe_reaches_99_percent_in_one_epoch(tmp_path: Path) -> None:
    """configs/fast.yaml's promise, on seed 1: the lowest of seeds 0-4 (99.16-99.32%) when the recipe last changed."""
    cli = fast_fit(tmp_path, "--seed_everything=1")
    assert cli.trainer.current_epoch == 1
    assert cli.trainer.callback_metrics["test/acc"] >= 0.99


def test_best_ckpt_is_the_best_epoch_and_the_fit_tests_it(tmp_path: Path) -> None:
    """With the app's own defaults (no --config): best.ckpt is the epoch of highest val/acc, not the latest,
    and the test that ends the fit tests it."""
    data, logs = f"--data.data_dir={REPO / 'data'}", f"--trainer.logger.init_args.save_dir={tmp_path}"
    quick = ["--trainer.limit_val_batches=2", "--trainer.limit_test_batches=2", "--trainer.enable_progress_bar=false"]
    # Epoch 1 at 1000x the learning rate (lr 1 for Adam) wrecks the network: epoch 0 is the best.
    wrecking = [
        "--model.scheduler=torch.optim.lr_scheduler.StepLR",
        "--model.scheduler.init_args.step_size=1",
        "--model.scheduler.init_args.gamma=1000",
    ]
    fit = MNISTCLI(
        args=["fit", data, logs, *quick, *wrecking, "--trainer.max_epochs=2", "--trainer.limit_train_batches=15"]
    )
    checkpoints = Path(fit.trainer.checkpoint_callback.dirpath)
    best, last = (torch.load(checkpoints / name, weights_only=True) for name in ("best.ckpt", "last.ckpt"))
    assert (best["epoch"], last["epoch"]) == (0, 1)
    fit_acc = fit.trainer.callback_metrics["test/acc"].item()
    test = MNISTCLI(args=["test", f"--ckpt_path={checkpoints / 'best.ckpt'}", data, logs, *quick])
    assert test.trainer.callback_metrics["test/acc"].item() == fit_acc > 0.5
    # Both logged where epoch 0 logged its val/acc, in the run and in its test_0 (the fit's was at its last
    # step); the fit's trainer counts its two epochs again after its test.
    run = checkpoints.parent
    fit_events, test_events = (EventAccumulator(str(folder)).Reload() for folder in (run, run / "test_0"))
    epoch_0 = fit_events.Scalars("val/acc")[0].step
    assert [p.step for p in fit_events.Scalars("test/acc")] == [p.step for p in test_events.Scalars("test/acc")]
    assert [p.step for p in test_events.Scalars("test/acc")] == [epoch_0]
    assert fit.trainer.current_epoch == 2 and fit.trainer.fit_loop.epoch_loop._batches_that_stepped == 30


class GraphsSeen(L.Callback):
    """Whether the network ran as graphs in training (a fit's end puts the network's own forward back)."""

    def on_train_end(self, trainer: L.Trainer, pl_module: MNISTClassifier) -> None:
        self.seen = pl_module._graphed and "forward" in vars(pl_module.net)


def graphs_fit(net: Any, cuda_graphs: bool, accelerator: str, **trainer: Any) -> tuple[MNISTClassifier, bool]:
    """Epochs (two unless ``trainer`` says) of 1,000 images in batches of 64 (15 whole ones and one of 40) of the
    network ``net()``; the module, and whether it trained as graphs."""
    L.seed_everything(0)
    model = MNISTClassifier(net(), optimizer=partial(torch.optim.SGD, lr=0.05, momentum=0.9), cuda_graphs=cuda_graphs)
    dm = MNISTDataModule(data_dir=str(REPO / "data"), val_size=59000)
    seen = GraphsSeen()
    options = {"max_epochs": 2, "limit_val_batches": 2, "deterministic": True, "logger": False, **QUIET, **trainer}
    L.Trainer(accelerator=accelerator, devices=1, callbacks=[seen], **options).fit(model, datamodule=dm)
    assert not model._graphed and "forward" not in vars(model.net)  # the fit's end took the graphs off
    return model, seen.seen


def test_cuda_graphs_do_nothing_on_a_cpu() -> None:
    eager, _ = graphs_fit(MinimalCNN, False, "cpu", max_epochs=1)
    graphs, seen = graphs_fit(MinimalCNN, True, "cpu", max_epochs=1)
    assert not seen
    assert all(torch.equal(a, b) for a, b in zip(eager.parameters(), graphs.parameters(), strict=True))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("net", [MinimalCNN, partial(FastCNN, width=4, hidden=16)])
def test_cuda_graphs_train_as_the_network_does_with_an_epochs_last_batch(net: Any) -> None:
    """FastCNN: its batch-norm statistics are put back after the capture's zero batches."""
    eager, _ = graphs_fit(net, False, "gpu")
    graphs, seen = graphs_fit(net, True, "gpu")
    assert seen
    for a, b in zip(eager.state_dict().values(), graphs.state_dict().values(), strict=True):
        assert torch.allclose(a.float(), b.float(), rtol=1e-4, atol=1e-5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_graphs_refuse_accumulated_gradients() -> None:
    """The graphed backward's gradients are buffers the next replay overwrites (pytorch/pytorch#181723)."""
    refused = r"^--model\.cuda_graphs with --trainer\.accumulate_grad_batches 2: .*give --model\.cuda_graphs false"
    with pytest.raises(UserError, match=refused):
        graphs_fit(MinimalCNN, True, "gpu", accumulate_grad_batches=2)


def test_a_schedule_torch_cannot_save_is_refused_naming_its_function() -> None:
    """torch saves these functions by their __dict__: a built-in one failed the first checkpoint, an epoch in."""
    sgd, schedules = partial(torch.optim.SGD, lr=0.01, momentum=0.9), torch.optim.lr_scheduler
    cyclic = partial(schedules.CyclicLR, base_lr=0.001, max_lr=0.01, scale_fn=math.cos)
    for scheduler, function in ((partial(schedules.LambdaLR, lr_lambda=math.exp), "lr_lambda"), (cyclic, "scale_fn")):
        model = MNISTClassifier(MinimalCNN(), optimizer=sgd, scheduler=scheduler)
        with pytest.raises(UserError, match=f"cannot be saved in a checkpoint .*: give its {function} as a function"):
            model.configure_optimizers()
    decay = partial(schedules.LambdaLR, lr_lambda=lambda epoch: 0.9**epoch)  # a Python function: saved by reference
    model = MNISTClassifier(MinimalCNN(), optimizer=sgd, scheduler=decay)
    model.trainer = L.Trainer(max_epochs=1, logger=False, **QUIET)
    assert model.configure_optimizers()["lr_scheduler"]["scheduler"].state_dict()["lr_lambdas"] == [None]


def test_compile_and_cuda_graphs_are_refused_together() -> None:
    fix = r"add --model\.cuda_graphs false to compile"  # fast.yaml turns graphs on, compile or not
    with pytest.raises(UserError, match=rf"^--model\.compile and --model\.cuda_graphs: give one of them .*{fix}"):
        MNISTClassifier(MinimalCNN(), compile=True, cuda_graphs=True)


class ClassicNet(nn.Module):
    """The PyTorch MNIST example's network of 2018, which flattens with view()."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 20, 5), nn.Conv2d(20, 50, 5)
        self.fc = nn.Linear(4 * 4 * 50, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv2(F.max_pool2d(F.relu(self.conv1(x)), 2))), 2)
        return self.fc(x.view(-1, 4 * 4 * 50))


def test_a_network_that_flattens_with_view_is_told_how_to_run_channels_last() -> None:
    # A 70-line traceback ending in "view size is not compatible with input tensor's size and stride".
    images = torch.zeros(2, 1, 28, 28)
    with pytest.raises(UserError, match=r"^--model.net ClassicNet: its forward calls .view\(\) on activations"):
        MNISTClassifier(ClassicNet())(images)
    assert MNISTClassifier(ClassicNet(), channels_last=False)(images).shape == (2, 10)


def test_lbfgs_counts_each_batch_once_in_the_training_curves() -> None:
    """LBFGS calls the closure, and so training_step, up to max_iter x 1.25 times a batch: train/loss and
    train/acc counted every call (15 steps and 480 images for 3 batches of 32, a review)."""
    lbfgs = partial(torch.optim.LBFGS, lr=0.1, max_iter=5)
    model = MNISTClassifier(MinimalCNN(), optimizer=lbfgs, channels_last=False)
    dm = MNISTDataModule(data_dir=str(REPO / "data"), batch_size=32)
    trainer = L.Trainer(max_epochs=1, limit_train_batches=3, limit_val_batches=0, logger=False, **QUIET)
    trainer.fit(model, datamodule=dm)
    metrics = model.train_metrics
    assert (int(metrics.steps), int(metrics.seen), trainer.global_step) == (3, 96, 3)


def test_a_momentum_of_1_from_python_is_refused_as_the_cli_refuses_1_0() -> None:
    """An int from Python, where the CLI gives a float (a mutation audit: checking floats alone took it)."""
    model = MNISTClassifier(LeNet(), optimizer=partial(torch.optim.SGD, lr=0.01, momentum=1))
    with pytest.raises(UserError, match="momentum 1: at 1 or more the velocity never fades"):
        optim.refuse_bad_settings(model)
