"""The data module: offline-first files, a fixed split, batches identical to the tutorial transform."""

import contextlib
import functools
import gzip
import hashlib
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import lightning as L
import pytest
import torch
from conftest import GZ_FILES, QUIET, REPO, child_env
from lightning.pytorch.trainer.states import TrainerFn
from PIL import Image
from torch import nn
from torchvision import transforms
from torchvision.datasets import MNIST
from torchvision.transforms import v2

from mnist_pl import data
from mnist_pl.augment import RandomAffine
from mnist_pl.checkpoints import check_readable
from mnist_pl.cli import MNISTCLI
from mnist_pl.data import MNIST_MD5, STATS, DataError, MNISTDataModule, ensure_files, trained_settings
from mnist_pl.errors import UserError
from mnist_pl.model import MNISTClassifier
from mnist_pl.nets import MinimalCNN
from mnist_pl.signals import InterruptedRunError

DATA_DIR = str(REPO / "data")


@pytest.fixture(scope="module")
def dm() -> MNISTDataModule:
    dm = MNISTDataModule(data_dir=DATA_DIR)
    dm.prepare_data()
    dm.setup("fit")
    return dm


def test_a_data_dir_of_the_datasets_own_folder_names_its_parent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """data/MNIST given for data: MNIST's files were copied into data/MNIST/MNIST/raw without a word, 53 MB
    again (an audit)."""
    (tmp_path / "MNIST" / "raw").mkdir(parents=True)
    given = tmp_path / "MNIST"
    with pytest.raises(DataError, match=rf"^--data.data_dir {given}: holds MNIST's raw/ itself: give {tmp_path}$"):
        ensure_files(given, download=False)
    assert [path.name for path in given.iterdir()] == ["raw"]
    monkeypatch.chdir(given)  # and as "." from inside it (a review)
    with pytest.raises(DataError, match=rf"^--data.data_dir \.: holds MNIST's raw/ itself: give {tmp_path}$"):
        ensure_files(Path("."), download=False)
    monkeypatch.chdir(tmp_path)
    ensure_files(tmp_path, download=False)  # its parent: filled there
    assert len(list((given / "raw").iterdir())) == 4


def test_bundled_gz_decompress_to_official_md5(gz_dir: Path) -> None:
    ensure_files(gz_dir, download=False)
    raw = gz_dir / "MNIST" / "raw"
    for name, md5 in MNIST_MD5.items():
        assert hashlib.md5((raw / name).read_bytes()).hexdigest() == md5
    assert not list(raw.glob(".*.tmp"))


def test_two_fits_decompressing_at_once_both_succeed(gz_dir: Path) -> None:
    # Two fits started together in a fresh clone decompress the same files. With one shared
    # temporary name, one moved the other's half-written file away (FileNotFoundError) or
    # found it the wrong MD5.
    errors: list[Exception] = []

    def prepare() -> None:
        try:
            ensure_files(gz_dir, download=False)
        except Exception as err:
            errors.append(err)

    threads = [threading.Thread(target=prepare) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    raw = gz_dir / "MNIST" / "raw"
    assert all(hashlib.md5((raw / name).read_bytes()).hexdigest() == md5 for name, md5 in MNIST_MD5.items())
    assert not list(raw.glob(".*.tmp"))


def test_split_sizes_and_label_counts(dm: MNISTDataModule) -> None:
    assert (len(dm.train_set), len(dm.val_set), len(dm.test_set)) == (55000, 5000, 10000)
    test_counts = torch.bincount(dm.test_set.labels, minlength=10).tolist()
    assert test_counts == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_train_and_val_partition_the_training_set(dm: MNISTDataModule) -> None:
    """Every one of the 60,000 images is in exactly one of train and val."""
    original = MNIST(DATA_DIR, train=True)

    def images(data: torch.Tensor, labels: torch.Tensor) -> Counter:
        return Counter(bytes(x.numpy()) + bytes([int(y)]) for x, y in zip(data, labels, strict=True))

    split = images(dm.train_set.images, dm.train_set.labels) + images(dm.val_set.images, dm.val_set.labels)
    assert split == images(original.data, original.targets)


def test_a_val_size_of_0_trains_on_all_60000_images() -> None:
    """As the classic PyTorch example trains: every image of the training split, none held out."""
    dm = MNISTDataModule(data_dir=DATA_DIR, val_size=0)
    dm.setup("fit")
    original = MNIST(DATA_DIR, train=True)
    assert (len(dm.train_set), len(dm.val_set)) == (60000, 0)
    assert torch.equal(dm.train_set.labels.sort().values, original.targets.sort().values)
    assert torch.equal(dm.train_set.images.sum(dim=(1, 2)).sort().values, original.data.sum(dim=(1, 2)).sort().values)


def test_a_validation_of_no_images_is_refused_from_python(tmp_path: Path) -> None:
    """Lightning validated an empty split without a word but its own warning: validate returned []. A fit
    without validation (limit_val_batches 0) never asks for the loader."""
    dm = MNISTDataModule(data_dir=DATA_DIR, val_size=0)
    trainer = L.Trainer(max_steps=2, limit_val_batches=0, logger=False, **QUIET)
    model = MNISTClassifier(net=MinimalCNN())
    trainer.fit(model, datamodule=dm)
    assert trainer.global_step == 2
    with pytest.raises(UserError) as refused:
        L.Trainer(logger=False, **QUIET).validate(model, datamodule=dm)
    assert str(refused.value) == (
        "MNISTDataModule.val_dataloader(): --data.val_size 0 holds out no validation images: give a val_size, such "
        "as 5000 (or, for a fit without validation, Trainer(limit_val_batches=0))"
    )


def test_split_is_stable_and_setup_idempotent(dm: MNISTDataModule) -> None:
    other = MNISTDataModule(data_dir=DATA_DIR)
    other.setup("fit")
    assert torch.equal(other.val_set.images, dm.val_set.images)
    val_set = other.val_set
    other.setup("test")
    assert other.val_set is val_set
    reseeded = MNISTDataModule(data_dir=DATA_DIR, split_seed=1)
    reseeded.setup("fit")
    assert not torch.equal(reseeded.val_set.labels, dm.val_set.labels)


def test_batches_match_the_tutorial_transform(dm: MNISTDataModule) -> None:
    """Normalising a uint8 batch at once equals ToTensor + Normalize per sample, bit for bit."""
    images, labels = next(iter(dm.val_dataloader()))
    images, labels = dm.on_after_batch_transfer((images, labels), 0)
    reference = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    expected = [reference(Image.fromarray(x.numpy(), mode="L")) for x in dm.val_set.images[:8]]
    assert images.shape == (1000, 1, 28, 28) and images.dtype == torch.float32
    assert torch.equal(images[:8], torch.stack(expected))
    assert torch.equal(labels, dm.val_set.labels[:1000])
    example = torch.zeros(2, 1, 28, 28)  # the model's example input, outside a Trainer: as it is (was AttributeError)
    assert dm.on_after_batch_transfer(example, 0) is example


@pytest.mark.parametrize(
    "device", ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU"))]
)
def test_every_pixel_value_normalises_as_the_tutorial_transform(device: str) -> None:
    """On the device that trains too: a GPU's own arithmetic was 1 ulp off for some pixel values (an H200)."""
    values = torch.arange(256, dtype=torch.uint8).view(1, 16, 16)
    for mean, std in ((None, None), (0.5, 0.05)):
        dm = MNISTDataModule(data_dir=DATA_DIR, mean=mean, std=std)
        reference = transforms.Compose([transforms.ToTensor(), transforms.Normalize((dm.mean,), (dm.std,))])
        expected = reference(Image.fromarray(values[0].numpy(), mode="L")).unsqueeze(0)
        assert torch.equal(dm.normalize(values.to(device)).cpu(), expected)
        assert torch.equal(dm.normalize(values.to(device)).cpu(), expected)  # from the table made by the first
        # Floats (a batch built in Python) keep their fractions, not rounded through the uint8 table: the
        # transform's arithmetic (ToTensor's / 255, Normalize's - mean, / std) on their device (a GPU's is
        # 1 ulp from the CPU's).
        halves = torch.tensor([[[0.5, 127.5]]], device=device)
        assert torch.equal(dm.normalize(halves), halves.div(255).sub(dm.mean).div(dm.std).unsqueeze(1))
        # Images with their channel, (N, 1, 28, 28) as torchvision's read_image gives: one channel, not two.
        assert torch.equal(dm.normalize(values.unsqueeze(1).to(device)).cpu(), expected)
        # One image, and RGB ones: (16, 1, 16) and (1, 1, 3, 16, 16), without a word (an audit).
        for other in (values[0], values.expand(3, 16, 16)[None]):
            with pytest.raises(UserError, match=r"^MNISTDataModule\.normalize: images of shape \("):
                dm.normalize(other.to(device))
    # Its normalisation set anew from Python, after a first batch: not the first one's lookup table.
    dm = MNISTDataModule(data_dir=DATA_DIR)
    dm.normalize(values.to(device))
    dm.mean, dm.std = 0.5, 0.05
    assert torch.equal(dm.normalize(values.to(device)).cpu(), expected)  # the reference of (0.5, 0.05) above


def test_training_order_is_a_function_of_seed_and_epoch(dm: MNISTDataModule) -> None:
    def epoch_order(seed: int, epoch: int) -> torch.Tensor:
        other = MNISTDataModule(data_dir=DATA_DIR, batch_size=5000, shuffle_seed=seed)
        other.train_set = dm.train_set
        loader = other.train_dataloader()
        loader.sampler.set_epoch(epoch)
        return torch.tensor(list(loader.sampler))

    first = epoch_order(0, 0)
    assert torch.equal(first, epoch_order(0, 0))
    assert not torch.equal(first, epoch_order(0, 1))
    assert not torch.equal(first, epoch_order(1, 0))
    assert torch.equal(first.sort().values, torch.arange(55000))  # every sample exactly once


def test_a_resumed_fit_goes_on_in_the_checkpoints_epoch_and_order_or_is_refused(dm: MNISTDataModule) -> None:
    """The data state a fit resumes from, on a real Trainer set to fit (the fits that write and resume it:
    tests/test_runs.py, some slow). Each refusal is of a resumed epoch that skipped other images than those
    trained; the epoch is the checkpoint's, as a one-cycle schedule or data workers have the loader built
    before Lightning restores its loops (it was epoch 0's order)."""
    trainer = L.Trainer(logger=False, limit_train_batches=5, **QUIET)
    trainer.state.fn = TrainerFn.FITTING

    def resumed(state: dict, **settings: int) -> MNISTDataModule:
        other = MNISTDataModule(data_dir=DATA_DIR, batch_size=settings.pop("batch_size", 5), **settings)
        other.trainer, other.train_set = trainer, dm.train_set
        other.load_state_dict({"dataset": "MNIST", **state})
        return other

    sampler = resumed({"epoch": 3, "batches_done": 0}).train_dataloader().sampler
    assert (sampler.epoch, sampler.skip) == (3, 0)
    mid = {"epoch": 1, "batches_done": 3, "batch_size": 5, "processes": 1, "limit_train_batches": 5, "shuffle_seed": 0}
    sampler = resumed(mid).train_dataloader().sampler
    assert (sampler.epoch, sampler.skip) == (1, 15)
    middle = "the checkpoint is from the middle of an epoch"
    for state, settings, error in (
        ({**mid, "shuffle_seed": 1}, {}, f"--data.shuffle_seed 0: {middle} shuffled with seed 1: resume with "),
        (mid, {"shuffle_seed": 2}, f"--data.shuffle_seed 2: {middle} shuffled with seed 0: resume with "),
        (mid, {"batch_size": 6}, f"--data.batch_size 6: {middle} trained in batches of 5: resume with "),
        ({**mid, "limit_train_batches": 4}, {}, f"--trainer.limit_train_batches 5: {middle} limited to 4: resume "),
        ({**mid, "processes": 2}, {}, f"--trainer.devices: {middle} trained in 2 processes, this run has 1: "),
        # The CLI takes the checkpoint's dataset; in Python, another's test ran without a word.
        ({"dataset": "FashionMNIST"}, {}, "the checkpoint was trained on FashionMNIST, the data is MNIST: use "),
    ):
        with pytest.raises(DataError) as refused:
            resumed(state, **settings)
        assert str(refused.value).startswith(error), str(refused.value)


def test_ddp_shards_hold_each_image_once(dm: MNISTDataModule) -> None:
    # Three ranks: none of the splits divides evenly. Each rank's loaders, as Lightning asks for them.
    def shards(split: str, **limit: float) -> list[list[int]]:
        ranks = []
        for rank in range(3):
            other = MNISTDataModule(data_dir=DATA_DIR)
            other.train_set, other.val_set, other.test_set = dm.train_set, dm.val_set, dm.test_set
            other.trainer = SimpleNamespace(world_size=3, global_rank=rank, **limit)
            ranks.append(list(getattr(other, f"{split}_dataloader")().sampler))
        return ranks

    # Validation and test: every image exactly once (padding counted the first images twice).
    for split, size in (("val", 5000), ("test", 10000)):
        ranks = shards(split)
        assert sorted(i for rank in ranks for i in rank) == list(range(size))
        assert max(map(len, ranks)) - min(map(len, ranks)) == 1
    # A fraction of the batches: shards of equal length, so that it is as many on every rank (of
    # shards one batch apart it was none on one rank only, which stopped while the others waited).
    assert len({len(rank) for rank in shards("val", limit_val_batches=0.5)}) == 1
    # Training: shards of equal length (DDP's gradient sync needs each rank's steps), every image in one.
    ranks = shards("train")
    assert len(ranks[0]) == len(ranks[1]) == len(ranks[2]) == 18334
    assert set(ranks[0]) | set(ranks[1]) | set(ranks[2]) == set(range(55000))


@pytest.fixture
def no_bundled_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As an install without this repository: no MNIST .gz files of its own."""
    monkeypatch.setattr("mnist_pl.data.BUNDLED", tmp_path / "no-repository")


def test_a_data_dir_elsewhere_is_filled_from_the_bundled_files_offline(tmp_path: Path) -> None:
    """A run started in another folder (data_dir "data" is relative to it) trained offline as in the repo."""
    ensure_files(tmp_path / "data", download=False)
    raw = tmp_path / "data" / "MNIST" / "raw"
    assert sorted(path.name for path in raw.iterdir()) == sorted(MNIST_MD5)  # decompressed only, no .gz copies
    assert all(hashlib.md5((raw / name).read_bytes()).hexdigest() == md5 for name, md5 in MNIST_MD5.items())


def test_a_data_dir_under_home_is_read_there(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # torchvision expands "~" when it reads, and the files were looked for under a folder named "~".
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    dm = MNISTDataModule(data_dir="~/mnist")
    dm.prepare_data()
    dm.setup("fit")
    assert len(dm.train_set) == 55000 and (tmp_path / "home" / "mnist" / "MNIST" / "raw").is_dir()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["home"]


@pytest.mark.usefixtures("no_bundled_copy")
def test_missing_files_offline_name_the_dir(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"MNIST/raw.*missing.*put the four MNIST \.gz or IDX files"):
        ensure_files(tmp_path, download=False)


@pytest.mark.usefixtures("no_bundled_copy")
def test_missing_files_are_downloaded_one_by_one(gz_dir: Path, tmp_path: Path, monkeypatch) -> None:
    """Only the missing file is fetched, over HTTP from a mirror on this machine."""
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    missing = gz_dir / "MNIST" / "raw" / GZ_FILES[0]
    missing.rename(mirror / GZ_FILES[0])
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(mirror))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setattr(MNIST, "mirrors", [f"http://127.0.0.1:{server.server_port}/"])
        for proxy in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
            monkeypatch.delenv(proxy, raising=False)  # urllib would send the request for 127.0.0.1 to it
        ensure_files(gz_dir, download=True)
    finally:
        server.shutdown()
    assert missing.exists() and (gz_dir / "MNIST" / "raw" / missing.stem).exists()


@pytest.mark.usefixtures("no_bundled_copy")
def test_unreachable_mirrors_give_one_clear_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(MNIST, "mirrors", ["http://127.0.0.1:9/"])  # nothing listens on port 9
    with pytest.raises(DataError, match=r"could not be downloaded.*copy the four MNIST \.gz files"):
        ensure_files(tmp_path / "mistyped" / "data", download=True)
    assert list(tmp_path.iterdir()) == []  # no folders made for the download left behind


class Mirror:
    """A server on this machine that answers every request with ``answer`` (bytes sent, then the connection
    closed; None: nothing, ever), and counts them: the mirrors of a download."""

    def __init__(self, answer: bytes | None, on_request: Callable[[], None] = lambda: None) -> None:
        self.answer, self.on_request, self.requests, self.held = answer, on_request, 0, []
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}/"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):  # closed
            while True:
                connection, _ = self.server.accept()
                connection.recv(65536)
                self.requests += 1
                self.on_request()
                if self.answer is None:
                    self.held.append(connection)  # never answered, never closed
                else:
                    connection.sendall(self.answer)
                    connection.close()

    def close(self) -> None:
        self.server.close()
        for connection in self.held:
            connection.close()


@pytest.fixture
def mirror_of(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Mirror]]:
    """``mirror_of(answer)``: MNIST's two mirrors replaced by one such server."""
    for proxy in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(proxy, raising=False)  # urllib would send the request for 127.0.0.1 to it
    mirrors: list[Mirror] = []

    def start(answer: bytes | None, on_request: Callable[[], None] = lambda: None) -> Mirror:
        mirrors.append(Mirror(answer, on_request))
        monkeypatch.setattr(MNIST, "mirrors", [mirrors[-1].url, mirrors[-1].url])
        return mirrors[-1]

    yield start
    for mirror in mirrors:
        mirror.close()


@pytest.mark.usefixtures("no_bundled_copy")
def test_a_download_cut_short_leaves_no_part_of_it(tmp_path: Path, mirror_of: Callable[..., Mirror]) -> None:
    """Written under its own name, part of an archive stayed there: the next run called it corrupt and said to
    replace it (a second fit, finding it being written, said so at once)."""
    mirror_of(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n" + b"x" * 1000)
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte\.gz is missing and could not be downloaded"):
        ensure_files(tmp_path / "data", download=True)
    assert list(tmp_path.iterdir()) == []  # no part of it, nor the folders made for it


@pytest.mark.usefixtures("no_bundled_copy")
def test_a_silent_mirror_is_given_up_on(
    tmp_path: Path, mirror_of: Callable[..., Mirror], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Behind a proxy that never answered, a download waited forever, without a word."""
    monkeypatch.setattr(data, "DOWNLOAD_SILENCE", 0.5)
    mirror = mirror_of(None)
    with pytest.raises(DataError, match=r"could not be downloaded \(http://127.*timed out"):
        ensure_files(tmp_path / "data", download=True)
    assert mirror.requests == 2 and list(tmp_path.iterdir()) == []


@pytest.mark.usefixtures("no_bundled_copy")
def test_a_stop_during_a_download_stops_it(tmp_path: Path, mirror_of: Callable[..., Mirror]) -> None:
    """The stop was taken for the mirror's failure: the next mirror was tried, and a second stop needed."""

    def stop(signum: int, frame: object) -> None:  # as the app's SIGTERM and first Ctrl-C, in the main thread
        raise InterruptedRunError("stopped", "SIGTERM")

    before = signal.signal(signal.SIGUSR1, stop)
    try:
        mirror = mirror_of(None, on_request=lambda: signal.pthread_kill(threading.main_thread().ident, signal.SIGUSR1))
        with pytest.raises(InterruptedRunError):
            ensure_files(tmp_path / "data", download=True)
    finally:
        signal.signal(signal.SIGUSR1, before)
    assert mirror.requests == 1 and list(tmp_path.iterdir()) == []


def test_truncated_gz_is_refused_and_leaves_nothing(gz_dir: Path) -> None:
    gz = gz_dir / "MNIST" / "raw" / "train-images-idx3-ubyte.gz"
    gz.write_bytes(gz.read_bytes()[:100_000])
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte\.gz is not a valid gzip file"):
        ensure_files(gz_dir, download=False)
    assert not (gz_dir / "MNIST" / "raw" / "train-images-idx3-ubyte").exists()
    assert not list((gz_dir / "MNIST" / "raw").glob(".*.tmp"))


def test_a_gz_damaged_inside_is_refused_and_leaves_nothing(gz_dir: Path) -> None:
    """zlib's error for a damaged block is no OSError: it was a traceback."""
    gz = gz_dir / "MNIST" / "raw" / "t10k-labels-idx1-ubyte.gz"
    damaged = bytearray(gz.read_bytes())
    damaged[100:102] = bytes(b ^ 0xFF for b in damaged[100:102])
    gz.write_bytes(bytes(damaged))
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte\.gz is not a valid gzip file \(Error -3 while"):
        ensure_files(gz_dir, download=False)
    assert not gz.with_suffix("").exists() and not list(gz.parent.glob(".*.tmp"))


def test_corrupt_decompressed_file_is_refused(gz_dir: Path) -> None:
    ensure_files(gz_dir, download=False)
    idx = gz_dir / "MNIST" / "raw" / "t10k-labels-idx1-ubyte"
    data = bytearray(idx.read_bytes())
    data[-1] ^= 1
    idx.write_bytes(bytes(data))
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte is corrupt"):
        ensure_files(gz_dir, download=False)


def test_an_archive_that_decompresses_to_other_bytes_is_refused_and_leaves_nothing(gz_dir: Path) -> None:
    raw = gz_dir / "MNIST" / "raw"
    labels = bytearray(gzip.decompress((raw / "t10k-labels-idx1-ubyte.gz").read_bytes()))
    labels[-1] ^= 1
    (raw / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(bytes(labels)))
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte\.gz decompresses to the wrong MD5"):
        ensure_files(gz_dir, download=False)
    assert not (raw / "t10k-labels-idx1-ubyte").exists() and not list(raw.glob(".*.tmp"))


def test_a_stop_while_the_first_file_decompresses_leaves_no_empty_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A Ctrl-C there said "nothing kept", and left <data_dir>/MNIST/raw behind, empty (an audit).
    monkeypatch.setattr(data.shutil, "copyfileobj", mock.Mock(side_effect=KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        ensure_files(tmp_path / "data", download=False)
    assert list(tmp_path.iterdir()) == []


def test_data_workers_leave_a_stop_to_the_main_process() -> None:
    """A Ctrl-C or SIGTERM sent to the process group (tests/test_runs.py sends them to a fit with workers)."""
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    try:
        data._leave_stops_to_the_main_process(0)  # as a worker process starts
        assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == (signal.SIG_IGN, signal.SIG_IGN)
    finally:
        signal.signal(signal.SIGINT, before[0])
        signal.signal(signal.SIGTERM, before[1])


def test_another_datasets_archive_is_checked_against_torchvisions_md5(gz_dir: Path) -> None:
    """MNIST's archives put where KMNIST's go: torchvision's MD5 of each KMNIST archive tells them apart."""
    raw = gz_dir / "KMNIST" / "raw"
    raw.mkdir(parents=True)
    for gz in (gz_dir / "MNIST" / "raw").glob("*.gz"):
        (raw / gz.name).write_bytes(gz.read_bytes())
    with pytest.raises(DataError, match=r"KMNIST/raw/train-images-idx3-ubyte\.gz is corrupt \(MD5 mismatch\)"):
        ensure_files(gz_dir, download=False, dataset="KMNIST")
    assert not list(raw.glob("*ubyte")) and not list(raw.glob(".*.tmp"))


def test_a_folder_where_a_data_file_goes_and_a_data_dir_under_a_file_are_named(gz_dir: Path, tmp_path: Path) -> None:
    """A folder in a file's place was an IsADirectoryError traceback (for every dataset); a data_dir
    under a file was "<dir>/MNIST/raw is not writable (Not a directory)"."""
    for dataset in ("MNIST", "KMNIST"):
        target = gz_dir / dataset / "raw" / "train-images-idx3-ubyte"
        target.mkdir(parents=True)
        with pytest.raises(
            DataError, match=f"^{re.escape(str(target))} is a folder, where the file of that name goes: "
        ):
            ensure_files(gz_dir, download=False, dataset=dataset)
    (tmp_path / "afile").write_text("not a folder")
    with pytest.raises(DataError) as err:
        ensure_files(tmp_path / "afile" / "data", download=False)
    assert str(err.value) == (
        f"--data.data_dir {tmp_path / 'afile' / 'data'}: {tmp_path / 'afile'} is a file, not a folder: "
        "give another --data.data_dir"
    )


def test_a_checkpoints_data_settings_are_ones_mnist_pl_writes(tmp_path: Path) -> None:
    """Edited by hand or damaged, each was a traceback, or (a std of 0) an export of NaNs."""
    for edited in (
        {"dataset": ["MNIST"]},
        {"dataset": "EMNIST"},
        {"val_size": True},
        {"val_size": -1},
        {"val_size": 60000},  # no training images left
        {"split_seed": 1.5},
        {"std": 0.0},
    ):
        with pytest.raises(DataError, match=r"^--ckpt_path x.ckpt: its data setting \w+ .* is none mnist_pl writes"):
            trained_settings({"datamodule_hyper_parameters": edited}, "x.ckpt")
    settings = {"dataset": "KMNIST", "std": 1, "mean": None, "batch_size": 5}  # batch_size: not a trained setting
    assert trained_settings({"datamodule_hyper_parameters": settings}, "x.ckpt") == {
        "dataset": "KMNIST",
        "mean": None,
        "std": 1,
    }
    ckpt = tmp_path / "x.ckpt"
    torch.save({"state_dict": {}, "pytorch-lightning_version": "2.6.0", "datamodule_hyper_parameters": "x"}, ckpt)
    with pytest.raises(UserError, match="its datamodule_hyper_parameters are 'x', not a dict"):
        check_readable(ckpt)


def test_the_data_settings_a_checkpoint_refuses_are_refused_before_a_fit() -> None:
    """An infinite std trained on blank images, and the run's own checkpoints were refused as damaged."""
    for name, value in (("std", math.inf), ("mean", -math.inf), ("mean", math.nan)):
        with pytest.raises(DataError, match=rf"^--data.{name} {value}: expected a finite number"):
            MNISTDataModule(**{name: value})


def test_mnists_normalisation_is_its_training_pixels_own(dm: MNISTDataModule) -> None:
    """STATS["MNIST"], the tutorials' 0.1307 and 0.3081: the mean and std of the 60,000 training images."""
    pixels = torch.cat([dm.train_set.images, dm.val_set.images]).double().div(255)
    assert (round(pixels.mean().item(), 4), round(pixels.std().item(), 4)) == STATS["MNIST"]


def test_bundled_files_are_the_shared_ones() -> None:
    assert sorted(f"{name}.gz" for name in MNIST_MD5) == GZ_FILES


def fashion_from_mnist_bytes(data_dir: Path) -> None:
    """FashionMNIST's four IDX files, with MNIST's bytes standing in (the same format)."""
    ensure_files(data_dir, download=False)
    raw = data_dir / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for name in MNIST_MD5:
        (raw / name).write_bytes((data_dir / "MNIST" / "raw" / name).read_bytes())


def test_another_dataset_works_once_its_idx_files_are_there(gz_dir: Path) -> None:
    with pytest.raises(DataError, match=r"FashionMNIST/raw/train-images-idx3-ubyte\.gz is missing.*FashionMNIST"):
        ensure_files(gz_dir, download=False, dataset="FashionMNIST")
    fashion_from_mnist_bytes(gz_dir)
    dm = MNISTDataModule(data_dir=str(gz_dir), dataset="FashionMNIST", download=False)
    dm.prepare_data()
    dm.setup("fit")
    assert (len(dm.train_set), len(dm.val_set), len(dm.test_set)) == (55000, 5000, 10000)
    assert (dm.mean, dm.std) == (0.2860, 0.3530) and dm.classes[0] == "T-shirt/top"
    pixels = dm.val_set.images[:4].unsqueeze(1).float() / 255
    assert torch.equal(dm.normalize(dm.val_set.images[:4]), (pixels - 0.2860) / 0.3530)


def test_another_datasets_idx_files_are_checked_whole(gz_dir: Path) -> None:
    """Checked by no MD5: one cut short was a traceback as the fit set up ("shape '[60000, 28, 28]' is invalid"), the
    training and test labels swapped a fit on wrong labels (test/acc 0.10), status 0."""
    fashion_from_mnist_bytes(gz_dir)
    raw = gz_dir / "FashionMNIST" / "raw"
    images, train, test = (
        raw / "train-images-idx3-ubyte",
        raw / "train-labels-idx1-ubyte",
        raw / "t10k-labels-idx1-ubyte",
    )
    whole = images.read_bytes()
    for wrong in (whole[:1_000_000], whole + b"\0"):  # cut short, or with more after it
        images.write_bytes(wrong)
        with pytest.raises(DataError) as err:
            ensure_files(gz_dir, download=False, dataset="FashionMNIST")
        assert str(err.value) == (
            f"{images} is not FashionMNIST's ({len(wrong):,} bytes, where 47,040,016 are expected): delete it and run "
            "again"
        )
    images.write_bytes(whole)
    labels = train.read_bytes(), test.read_bytes()
    train.write_bytes(labels[1]), test.write_bytes(labels[0])
    with pytest.raises(DataError) as err:
        ensure_files(gz_dir, download=False, dataset="FashionMNIST")
    assert str(err.value) == (
        f"{train} is not FashionMNIST's (its header is not that of 60,000 labels): delete it and run again"
    )


# Each case's file or folder made unreadable in a process that may not override permissions, as a user's.
UNREADABLE = """
import sys
from pathlib import Path
from mnist_pl.data import DataError, ensure_files
data = Path(sys.argv[1])
for path, mode in ((data / "MNIST/raw/t10k-labels-idx1-ubyte", 0o000), (data / "MNIST/raw", 0o600)):
    before = path.stat().st_mode
    path.chmod(mode)
    try:
        ensure_files(data, download=False)
    except DataError as err:
        print(err)
    finally:
        path.chmod(before)
"""


@pytest.mark.slow  # a process of its own, 5-8 s to import: an edge of the default suite's checks, its time
def test_data_files_this_user_may_not_read_are_named(gz_dir: Path) -> None:
    """Tracebacks (PermissionError in the MD5 check, or as the folder was looked in); a .gz was said to be no gzip
    file, to be replaced."""
    ensure_files(gz_dir, download=False)
    (gz_dir / "MNIST" / "raw" / "t10k-labels-idx1-ubyte").unlink()  # decompressed again from its unreadable .gz
    (gz_dir / "MNIST" / "raw" / "t10k-labels-idx1-ubyte.gz").chmod(0)
    user = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search"] if os.geteuid() == 0 else []
    if user and (not shutil.which("setpriv") or subprocess.run([*user, "true"], capture_output=True).returncode):
        pytest.skip("root, without setpriv's dropping of capabilities: every file is readable")
    script = UNREADABLE.replace("t10k-labels-idx1-ubyte", "t10k-labels-idx1-ubyte.gz", 1)
    result = subprocess.run(
        [*user, sys.executable, "-c", script, str(gz_dir)], capture_output=True, text=True, env=child_env()
    )
    assert result.returncode == 0, result.stderr[-2000:]
    fix = "permission denied: make it readable (its folder searchable), or give another --data.data_dir"
    raw = gz_dir / "MNIST" / "raw"
    assert result.stdout.splitlines() == [
        f"{raw / 't10k-labels-idx1-ubyte.gz'}: {fix}",
        f"{raw / 'train-images-idx3-ubyte'}: {fix}",
    ]


def test_a_data_dir_that_links_to_nothing_is_named(tmp_path: Path) -> None:
    """It was "<its folder> is not writable (File exists)", of a writable folder."""
    (tmp_path / "data").symlink_to(tmp_path / "gone")
    with pytest.raises(DataError) as err:
        ensure_files(tmp_path / "data", download=False)
    assert str(err.value) == (
        f"--data.data_dir {tmp_path / 'data'}: {tmp_path / 'data'} is a link to {tmp_path / 'gone'}, which is not "
        "there: give another --data.data_dir"
    )


@pytest.mark.slow  # an edge of the default suite's checks: its time
def test_a_checkpoint_is_not_tested_on_another_dataset(gz_dir: Path, tmp_path: Path) -> None:
    fashion_from_mnist_bytes(gz_dir)
    common = [f"--data.data_dir={gz_dir}", "--trainer.enable_progress_bar=false"]
    fit = MNISTCLI(
        args=[
            "fit",
            f"--config={REPO / 'configs' / 'minimal.yaml'}",
            f"--trainer.logger.init_args.save_dir={tmp_path}",
            "--trainer.max_steps=2",
            "--test_after_fit=false",
            *common,
        ]
    )
    ckpt = fit.trainer.checkpoint_callback.last_model_path
    test = ["test", f"--ckpt_path={ckpt}", f"--trainer.logger.init_args.save_dir={tmp_path}", *common]
    refused = r"--data\.dataset {}: the checkpoint was trained with MNIST, .* leave out --data\.dataset$"
    with pytest.raises(UserError, match=refused.format("FashionMNIST")):
        MNISTCLI(args=[*test, "--data.dataset=FashionMNIST"])
    # Checked before the data files are looked for: offline, KMNIST's missing files were the error.
    with pytest.raises(UserError, match=refused.format("KMNIST")):
        MNISTCLI(args=[*test, "--data.dataset=KMNIST", "--data.download=false"])
    assert list((tmp_path / "mnist").glob("version_*")) == []  # the refused tests left no run behind
    # Left out, it is the checkpoint's (the DataModule's own refusal, from Python: test_a_resumed_fit_goes_on_...).
    assert MNISTCLI(args=test).datamodule.hparams.dataset == "MNIST"


class FirstBatches(L.Callback):
    """The images of each stage's first batch as the model gets them (after on_after_batch_transfer)."""

    def __init__(self) -> None:
        self.images: dict[str, torch.Tensor] = {}

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        indices = list(trainer.train_dataloader.sampler)[: len(batch[0])]  # this epoch's order again
        plain = trainer.datamodule.normalize(trainer.datamodule.train_set.images[indices])
        self.images.setdefault("train", batch[0].cpu().clone())
        self.images.setdefault("train unaugmented", plain)

    def on_validation_batch_start(self, trainer, pl_module, batch, batch_idx: int, dataloader_idx: int = 0) -> None:
        self.images.setdefault("val", batch[0].cpu().clone())

    def on_test_batch_start(self, trainer, pl_module, batch, batch_idx: int, dataloader_idx: int = 0) -> None:
        self.images.setdefault("test", batch[0].cpu().clone())

    def on_predict_batch_start(self, trainer, pl_module, batch, batch_idx: int, dataloader_idx: int = 0) -> None:
        self.images.setdefault("predict", batch[0].cpu().clone())


class OwnFlip(v2.RandomHorizontalFlip):
    """A transform of one's own built on torchvision's: it draws as torchvision's do."""


@pytest.mark.parametrize(
    "flip",
    [
        transforms.RandomHorizontalFlip,
        v2.RandomHorizontalFlip,
        OwnFlip,
        lambda: nn.Sequential(v2.RandomHorizontalFlip()),
    ],
    ids=["v1", "v2", "a subclass", "in a Sequential"],
)
def test_a_torchvision_augmentation_draws_per_image(dm: MNISTDataModule, flip: type) -> None:
    """torchvision's transforms draw once per call: given the batch, every image got the same flip (or none)."""
    torch.manual_seed(0)
    data = MNISTDataModule(data_dir=DATA_DIR, augment=flip())
    images = dm.train_set.images[:64]
    augmented, plain = data.normalize(images, data.augment), dm.normalize(images)
    flipped = [torch.equal(a, p.flip(-1)) for a, p in zip(augmented, plain, strict=True)]
    kept = [torch.equal(a, p) for a, p in zip(augmented, plain, strict=True)]
    assert all(f != k for f, k in zip(flipped, kept, strict=True))  # each image either, none both
    assert 16 < sum(flipped) < 48  # about half of them, each its own draw


def test_the_apps_affine_beside_a_torchvision_transform_moves_each_image(dm: MNISTDataModule) -> None:
    """Beside a torchvision transform the whole augmentation runs image by image, and RandomAffine was given
    one image (1, 28, 28): "affine_grid only supports 4D and 5D sizes", a traceback at the first batch (a review)."""
    torch.manual_seed(0)
    augment = nn.Sequential(RandomAffine(degrees=30), v2.RandomHorizontalFlip(p=0.0))  # the flip: never
    data = MNISTDataModule(data_dir=DATA_DIR, augment=augment)
    images = dm.train_set.images[:8]
    augmented = data.normalize(images, data.augment)
    assert augmented.shape == (8, 1, 28, 28)
    assert not any(torch.equal(a, p) for a, p in zip(augmented, dm.normalize(images), strict=True))  # each moved


def test_augmentation_moves_training_images_only(dm: MNISTDataModule) -> None:
    """--data.augment: validation, test and predict see the images as they are (and so score and predict them)."""
    L.seed_everything(0)
    data = MNISTDataModule(data_dir=DATA_DIR, eval_batch_size=100, augment=RandomAffine(degrees=30))
    first = FirstBatches()
    limits = {f"limit_{stage}_batches": 1 for stage in ("train", "val", "test", "predict")}
    quiet = {"enable_progress_bar": False, "enable_model_summary": False, "enable_checkpointing": False}
    trainer = L.Trainer(max_epochs=1, num_sanity_val_steps=0, logger=False, callbacks=[first], **limits, **quiet)
    model = MNISTClassifier(MinimalCNN())
    trainer.fit(model, datamodule=data)
    trainer.test(model, datamodule=data)
    trainer.predict(model, datamodule=data)
    assert not torch.equal(first.images["train"], first.images["train unaugmented"])  # augmented
    # and normalised: the area an affine moves in is a pixel of 0, the darkest the training batch holds.
    background = torch.tensor(-data.mean / data.std)
    assert torch.isclose(first.images["train"].min(), background, atol=1e-5)
    assert torch.equal(first.images["val"], dm.normalize(dm.val_set.images[:100]))
    assert torch.equal(first.images["test"], dm.normalize(dm.test_set.images[:100]))
    assert torch.equal(first.images["predict"], dm.normalize(dm.test_set.images[:100]))
