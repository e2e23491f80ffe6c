"""MNIST as a LightningDataModule: offline-first files, a fixed validation split, in-memory batches.

Each split is held as two tensors (uint8 images, int64 labels) and a batch is cut from them with
one indexing operation; normalisation runs once per batch, on the device that trains. Against the
tutorial pipeline (per-sample PIL image, ``ToTensor``, ``Normalize``, collation) this removes most
of the time an epoch spends outside the network on a CPU.
"""

import gzip
import hashlib
import itertools
import math
import os
import shutil
import signal
import socket
import sys
import zlib
from collections.abc import Callable, Iterator
from http.client import HTTPException
from pathlib import Path
from typing import Any, Literal

import lightning as L
import torch
from jsonargparse.typing import NonNegativeInt, PositiveFloat, PositiveInt
from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler
from lightning.pytorch.utilities import rank_zero_warn
from lightning.pytorch.utilities.exceptions import SIGTERMException
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler
from torchvision.datasets import KMNIST, MNIST, FashionMNIST
from torchvision.datasets.utils import check_md5, download_url

from mnist_pl.augment import PerImage, per_image
from mnist_pl.checkpoints import objects_left_out, overrides_checked, plain
from mnist_pl.errors import UserError
from mnist_pl.files import beside, missing_folders, remove_empty
from mnist_pl.images import UnreadableImageError, find_images, load_digit, suffixes

# MD5 of MNIST's decompressed IDX files: the official sums that loaders check. The bundled .gz
# files were recompressed, so for MNIST the decompressed files are what is checked.
MNIST_MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
# The MNIST family: same IDX files, 28x28 grey images, 10 classes. torchvision's class of each
# knows its folder, mirrors, archive MD5s and class names.
DatasetName = Literal["MNIST", "FashionMNIST", "KMNIST"]
DATASETS: dict[str, type[MNIST]] = {cls.__name__: cls for cls in (MNIST, FashionMNIST, KMNIST)}
# Mean and standard deviation of each training set's pixels in [0, 1]: the normalisation.
STATS = {"MNIST": (0.1307, 0.3081), "FashionMNIST": (0.2860, 0.3530), "KMNIST": (0.1918, 0.3483)}
# The MNIST .gz files this repository ships (an install without the repository has none). A data dir
# without them (a run started in another folder: data_dir "data" is relative to it) is filled from
# these instead of the internet, which failed offline.
BUNDLED = Path(__file__).resolve().parents[1] / "data" / "MNIST" / "raw"


class DataError(UserError):
    """A data problem the user can fix."""


DIGITS = [str(digit) for digit in range(10)]  # the folder names that label the images in them


def _finite_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# Past these, torch's generators (seeded with the shuffle seed plus the epoch: an int64 leaves room for the
# epochs) and its batch sampler failed at the first batch, in tracebacks; the CLI refuses them as it parses.
INT_RANGES = {
    "batch_size": (1, 2**63),
    "eval_batch_size": (1, 2**63),
    "split_seed": (-(2**63), 2**63),
    "shuffle_seed": (-(2**63), 2**63),
}


# The data settings a run from a checkpoint keeps, and what each may be: one edited by hand was a
# traceback, and a std of 0 exported NaNs. The dataset first: the others' defaults are its own, and
# it is checked before its files are looked for (offline, another dataset's missing files were the error).
TRAINED_SETTINGS: dict[str, Callable[[Any], bool]] = {
    "dataset": lambda value: isinstance(value, str) and value in DATASETS,
    "mean": lambda value: value is None or _finite_number(value),
    "std": lambda value: value is None or (_finite_number(value) and value > 0),
    "val_size": lambda value: _int(value) and 0 <= value < 60000,
    "split_seed": _int,
}


def trained_settings(checkpoint: dict[str, Any], ckpt_path: str | os.PathLike) -> dict[str, Any]:
    """The ``TRAINED_SETTINGS`` a checkpoint (read by ``check_readable``) records, each checked."""
    settings = checkpoint.get("datamodule_hyper_parameters", {})
    for key, valid in TRAINED_SETTINGS.items():
        if key in settings and not valid(settings[key]):
            raise DataError(
                f"--ckpt_path {ckpt_path}: its data setting {key} {settings[key]!r} is none mnist_pl writes "
                "(the file was edited or is damaged): give a .ckpt file written by mnist_pl"
            )
    return {key: settings[key] for key in TRAINED_SETTINGS if key in settings}


def refuse_own_images_for(dataset: str, spec: str, named: str | None = None) -> None:
    """Own images (``--data.predict_path``) are made to look like MNIST's digits: for another dataset an
    item that fills its frame was shrunk into 20x20 and shifted, without a word. ``named``: where the
    dataset came from, as the message says it (``--data.dataset KMNIST`` unless given)."""
    if dataset != "MNIST":
        raise UserError(
            f"--data.predict_path {spec}: {named or f'--data.dataset {dataset}'}, and your images are made to look "
            f"like MNIST's digits (fit into 20x20, centred by their mass), not like {dataset}'s images: leave out "
            "--data.predict_path to predict the test split"
        )


def ensure_files(root: Path, download: bool, dataset: DatasetName = "MNIST") -> None:
    """Make the four decompressed IDX files of ``dataset`` exist under ``root/<dataset>/raw``.

    Order: files already there, then the ``.gz`` next to them, then this repository's own MNIST
    ``.gz`` (``BUNDLED``), then (if ``download``) torchvision's mirrors. MNIST's files are checked
    against the official MD5s, the other datasets' archives against the MD5s torchvision knows. A
    file is written under a temporary name and renamed once checked, so a crash or a corrupt
    archive never leaves a bad file where a good one is expected.
    """
    cls = DATASETS[dataset]
    try:
        root = root.expanduser()  # as torchvision reads it: "~/mnist" made a folder named "~" here
    except RuntimeError as err:  # ~name of no such user
        raise DataError(f"--data.data_dir {root}: {str(err).rstrip('.')}: check the path") from err
    raw = root / dataset / "raw"
    try:  # "." or "/" at last
        nearest = next(folder for folder in (raw, *raw.parents) if folder.exists() or folder.is_symlink())
    except PermissionError as err:  # a folder on the way this user may not search
        raise DataError(f"--data.data_dir {root}: {err.filename}: permission denied: give another one") from err
    if not nearest.exists():  # was "<its folder> is not writable (File exists)" when raw was made
        raise DataError(
            f"--data.data_dir {root}: {nearest} is a link to {os.readlink(nearest)}, which is not there: "
            "give another --data.data_dir"
        )
    if nearest == root and not root.is_dir():
        raise DataError(f"--data.data_dir {root} is a file: give the folder that holds {dataset}/raw")
    # torchvision's own folder (also as "." from inside it)
    if (folder := Path(os.path.abspath(root))).name == dataset and (root / "raw").is_dir() and not raw.exists():
        raise DataError(f"--data.data_dir {root}: holds {dataset}'s raw/ itself: give {folder.parent}")
    if not nearest.is_dir():  # was "<raw> is not writable (Not a directory)" when raw was made
        raise DataError(f"--data.data_dir {root}: {nearest} is a file, not a folder: give another --data.data_dir")
    try:
        for gz_name, gz_md5 in cls.resources:
            _ensure_file(cls, raw, nearest, gz_name, gz_md5, download)
    except PermissionError as err:  # a file or folder of the data this user may not read: were tracebacks
        raise DataError(
            f"{err.filename}: permission denied: make it readable (its folder searchable), or give another "
            "--data.data_dir"
        ) from err


def _ensure_file(cls: type[MNIST], raw: Path, nearest: Path, gz_name: str, gz_md5: str, download: bool) -> None:
    """One of the four IDX files of ``ensure_files`` (``nearest``: the folder of ``raw``'s path that exists)."""
    dataset = cls.__name__
    name = gz_name.removesuffix(".gz")
    target = raw / name
    md5 = MNIST_MD5[name] if dataset == "MNIST" else None
    if target.is_dir():  # was an IsADirectoryError traceback, from the MD5 check or torchvision's read
        raise DataError(f"{target} is a folder, where the file of that name goes: remove it and run again")
    if target.exists():
        if md5 is not None and not check_md5(target, md5):
            raise DataError(f"{target} is corrupt (MD5 mismatch): delete it and run again")
        if md5 is None and (problem := _not_whole(target)):  # a traceback in setup, or trained on wrong labels
            raise DataError(f"{target} is not {dataset}'s ({problem}): delete it and run again")
        return
    gz = raw / gz_name
    if not gz.exists() and dataset == "MNIST" and (BUNDLED / gz_name).is_file():
        gz = BUNDLED / gz_name  # decompressed from there into raw
    if not gz.exists():
        if not download:
            raise DataError(
                f"{gz} is missing: put the four {dataset} .gz or IDX files in {raw} or set --data.download true"
            )
        _download(cls, gz, gz_md5, md5)
    if md5 is None and not check_md5(gz, gz_md5):
        raise DataError(f"{gz} is corrupt (MD5 mismatch): replace it with a good copy")
    made = missing_folders(raw)
    try:
        _decompress(gz, target, nearest, md5)
    finally:
        if not target.exists():
            remove_empty(made)  # a stop or an error in the first file leaves no empty folders behind


def _decompress(gz: Path, target: Path, nearest: Path, md5: str | None) -> None:
    """``gz`` decompressed into ``target`` (its folder made: ``nearest`` is the nearest that exists), whole and
    checked against ``md5`` where known, or not at all."""
    raw = target.parent
    with beside(target) as tmp:  # two fits started together decompress the same file at once
        try:
            raw.mkdir(parents=True, exist_ok=True)
            dst = open(tmp, "wb")  # noqa: SIM115 (closed by the with below)
        except OSError as err:
            if nearest != raw:  # the folder to be made in, not one that is not there
                raise DataError(
                    f"{nearest} is not writable ({err.strerror}), where {raw.relative_to(nearest)} is made for "
                    "the data: make it writable, or give --data.data_dir a writable folder"
                ) from err
            raise DataError(
                f"{raw} is not writable ({err.strerror}): make it writable, or decompress the four "
                f".gz files there yourself (gunzip -k), or point --data.data_dir at a writable copy"
            ) from err
        try:
            with gzip.open(gz, "rb") as src, dst:
                shutil.copyfileobj(src, dst)
        except PermissionError:  # a good file this user may not read: said so by ensure_files
            raise
        except (OSError, EOFError, zlib.error) as err:  # zlib's: a damaged block inside the stream
            raise DataError(f"{gz} is not a valid gzip file ({err}): replace it with a good copy") from err
        if md5 is not None and not check_md5(tmp, md5):
            raise DataError(f"{gz} decompresses to the wrong MD5: replace it with a good copy")
        tmp.replace(target)


def _not_whole(path: Path) -> str | None:
    """Why an IDX file (decompressed, not checked by an MD5) is not one of its dataset's, or None: its
    header, 60,000 or 10,000 (``train-``/``t10k-``) 28x28 images or labels of unsigned bytes, and its size."""
    items = 60000 if path.name.startswith("train-") else 10000
    images = "-images-" in path.name
    shape = (items, 28, 28) if images else (items,)
    with open(path, "rb") as file:
        header = file.read(4 * (1 + len(shape)))
    found = tuple(int.from_bytes(header[i : i + 4], "big") for i in range(4, len(header), 4))
    if header[:4] != bytes([0, 0, 0x08, len(shape)]) or found != shape:  # 0x08: unsigned bytes
        return f"its header is not that of {items:,} {'images of 28 x 28' if images else 'labels'}"
    size, expected = path.stat().st_size, len(header) + math.prod(shape)
    return f"{size:,} bytes, where {expected:,} are expected" if size != expected else None


def _decompresses_to(gz: Path, md5: str) -> bool:
    """Whether ``gz`` is a gzip file whose content has ``md5``: a download checked as the bundled archives are,
    by what they decompress to."""
    digest = hashlib.md5()
    try:
        with gzip.open(gz, "rb") as file:
            while chunk := file.read(1 << 20):
                digest.update(chunk)
    except (OSError, EOFError, zlib.error):
        return False
    return digest.hexdigest() == md5


# Seconds a download may wait for the network before it gives up on a mirror: behind a proxy that never
# answered, it waited forever without a word.
DOWNLOAD_SILENCE = 60.0


def _download(cls: type[MNIST], gz: Path, md5: str, idx_md5: str | None) -> None:
    """``gz`` from the first of ``cls``'s mirrors that gives it, written under a temporary name and renamed once
    whole (``md5``: the original archive's; MNIST's, ``idx_md5``: of the file it decompresses to, as this
    repository's are recompressed): a stop, a connection cut short (which urllib takes for the file's end), or
    a second fit that found it being written left part of it under its name, then called corrupt."""
    made = missing_folders(gz.parent)
    errors = []
    silence = socket.getdefaulttimeout()
    try:
        socket.setdefaulttimeout(DOWNLOAD_SILENCE)
        for mirror in cls.mirrors:
            with beside(gz) as tmp:
                try:
                    gz.parent.mkdir(parents=True, exist_ok=True)
                    tmp.unlink(missing_ok=True)  # a killed run's, of the same pid: torchvision would take it as done
                    download_url(f"{mirror}{gz.name}", root=str(gz.parent), filename=tmp.name)
                except PermissionError as err:  # ours, not the mirror's: "make it readable" was the wrong fix
                    raise DataError(
                        f"{Path(err.filename).parent} is not writable ({err.strerror}), where {gz} is downloaded: "
                        "make it writable, or give --data.data_dir a writable folder"
                    ) from err
                except (OSError, HTTPException) as err:  # the network's: the next mirror is tried (a stop is not)
                    errors.append(f"{mirror}: {err}")
                    continue
                if not check_md5(tmp, md5) and not (idx_md5 and _decompresses_to(tmp, idx_md5)):
                    errors.append(f"{mirror}: {tmp.stat().st_size:,} bytes, not the file (MD5 mismatch)")
                    continue
                tmp.replace(gz)
                return
    finally:
        socket.setdefaulttimeout(silence)
        if not gz.exists():
            remove_empty(made)  # a mistyped --data.data_dir, or a stop, leaves no empty folders behind
    raise DataError(
        f"{gz} is missing and could not be downloaded ({'; '.join(errors)}): "
        f"copy the four {cls.__name__} .gz files into {gz.parent}"
    )


class TensorPairDataset(Dataset):
    """Images and labels as two tensors; ``__getitems__`` returns a whole batch with one index."""

    def __init__(self, images: Tensor, labels: Tensor) -> None:
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        return self.images[index], self.labels[index]

    def __getitems__(self, indices: list[int]) -> tuple[Tensor, Tensor]:
        # Measured on a 2-core EPYC: with its dtype given the index takes 17 us instead of 27 (64
        # indices, no type inference); index_select cuts the uint8 batch in 5 us where images[index]
        # takes 45 (555 against 28 us at 1000 images). A training epoch's batches: 66 ms, was 134.
        index = torch.tensor(indices, dtype=torch.long)
        return self.images.index_select(0, index), self.labels.index_select(0, index)


def _as_batch(batch: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
    """Collate for ``__getitems__``: the batch is already stacked."""
    return batch


class EpochSampler(DistributedSampler):
    """Lightning's restart of an epoch from a checkpoint of its middle, made exact.

    Lightning goes on counting from the checkpoint's batch, but a DataLoader that keeps no state
    starts the epoch's order again from its first batch: the resumed epoch trained its first
    batches twice and never saw its last ones. ``skip``, set by the DataModule from the
    checkpoint, leaves out the samples already trained, once.
    """

    skip = 0

    def __iter__(self) -> Iterator[int]:
        skip, self.skip = self.skip, 0
        return itertools.islice(super().__iter__(), skip, None)


def _leave_stops_to_the_main_process(worker_id: int) -> None:
    """A worker process ignores Ctrl-C and SIGTERM: sent to the whole process group (a terminal's Ctrl-C,
    Slurm's scancel, systemctl stop), they killed the workers, and the fit ended in a traceback, unsaved;
    a Ctrl-C printed the fit's stop line once per worker. The main process stops the fit, then its workers.
    (This replaces Lightning's worker seeding: a worker only cuts batches, nothing in it is random. A worker
    stuck in a batch would hold the process's exit, as torch's last resort is a SIGTERM: these batches are
    cut from tensors in memory, and nothing in them waits.)"""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _augmented(augment: nn.Module, pixels: Tensor) -> Tensor:
    """``augment``'s batch, or one line that names it: one built that failed on images (a crop larger than
    28x28, ToPILImage) ended in a traceback, and one that resized them was blamed on the model (a review)."""
    inner = augment.transform if isinstance(augment, PerImage) else augment
    name = f"--data.augment {getattr(inner, '__name__', type(inner).__name__)}"  # a function's own name
    try:
        out = augment(pixels)
    except torch.OutOfMemoryError:
        raise
    except (RuntimeError, ValueError, TypeError) as err:
        reason = str(err).strip().splitlines()[0].rstrip(".") if str(err).strip() else type(err).__name__
        raise DataError(
            f"{name}: fails on a batch of 28x28 images ({reason}): fix its settings, or leave it out"
        ) from err
    if not isinstance(out, Tensor) or not out.is_floating_point() or out.shape != pixels.shape:
        got = (
            f"(N, {', '.join(map(str, out.shape[1:]))}) {out.dtype}" if isinstance(out, Tensor) else type(out).__name__
        )
        raise DataError(
            f"{name}: turns a batch of (N, 1, 28, 28) {pixels.dtype} into {got}: give one that keeps its shape and "
            "floats, or leave it out"
        )
    return out


class MNISTDataModule(L.LightningDataModule):
    """MNIST, FashionMNIST or KMNIST: a fixed train/val split of the 60,000, and the 10,000 test images.

    Args:
        data_dir: folder holding ``<dataset>/raw`` (relative: to the current folder).
        dataset: which of the MNIST family; MNIST is bundled (decompressed into ``data_dir`` from
            the repository's copy), the others are read from their four IDX files (or .gz) in
            ``<data_dir>/<dataset>/raw``, or downloaded.
        batch_size: training batch size.
        eval_batch_size: batch size for validation, test and predict.
        val_size: images held out of the 60,000 for validation; 0: train on all of them, as the classic
            PyTorch example does, in a fit without validation (``--trainer.limit_val_batches 0``).
        split_seed: seed of the train/val split, separate from the training seed so the
            validation images never change between runs.
        shuffle_seed: seed of the per-epoch training order (epoch ``e`` uses ``shuffle_seed + e``).
        mean: normalisation mean of the pixel values in [0, 1]; default: the dataset's own (MNIST 0.1307,
            FashionMNIST 0.2860, KMNIST 0.1918).
        std: normalisation standard deviation; default: the dataset's own (0.3081, 0.3530, 0.3483).
        num_workers: DataLoader worker processes; 0 is fastest for in-memory tensors.
        download: fetch files that are neither decompressed nor bundled from torchvision's mirrors.
        augment: applied to training batches only, on the device, to pixel values in [0, 1]
            before normalisation (e.g. ``mnist_pl.augment.RandomAffine``); default none. A torchvision
            transform is applied image by image.
        predict_path: images for ``predict``: a file, a folder or a glob, each made as MNIST's digits were
            (grey, white ink on black, fitted to 20x20 and centred in 28x28). None: the test split.
    """

    def __init__(
        self,
        data_dir: str = "data",
        dataset: DatasetName = "MNIST",
        batch_size: PositiveInt = 64,
        eval_batch_size: PositiveInt = 1000,
        val_size: NonNegativeInt = 5000,
        split_seed: int = 42,
        shuffle_seed: int = 0,
        mean: float | None = None,
        std: PositiveFloat | None = None,
        num_workers: NonNegativeInt = 0,
        download: bool = True,
        augment: nn.Module | None = None,
        predict_path: str | None = None,
    ) -> None:
        super().__init__()
        if not data_dir:  # Path("") is the current folder: the data was decompressed there
            raise DataError("--data.data_dir is empty: give a folder, such as data")
        if dataset not in DATASETS:  # from Python: a KeyError
            raise DataError(f"--data.dataset {dataset!r}: expected one of {', '.join(DATASETS)}")
        # Plain values, which checkpoints hold (save_hyperparameters reads these names as they are now): from the
        # CLI, std is jsonargparse's PositiveFloat, which the data state put in every checkpoint, and a
        # weights-only load refused it (the fit's own closing test was a traceback); a Path or numpy number too.
        data_dir = plain("--data.data_dir", data_dir, str)
        predict_path = plain("--data.predict_path", predict_path, str)
        mean, std = plain("--data.mean", mean, float), plain("--data.std", std, float)
        download = plain("--data.download", download, bool)
        batch_size, eval_batch_size, val_size, split_seed, shuffle_seed, num_workers = (
            plain(f"--data.{name}", value, int)
            for name, value in (
                ("batch_size", batch_size),
                ("eval_batch_size", eval_batch_size),
                ("val_size", val_size),
                ("split_seed", split_seed),
                ("shuffle_seed", shuffle_seed),
                ("num_workers", num_workers),
            )
        )
        # The CLI's types and its checks, for a data module built in Python (None too: a TypeError of <=).
        given = {"batch_size": batch_size, "eval_batch_size": eval_batch_size}
        given |= {"split_seed": split_seed, "shuffle_seed": shuffle_seed}
        for name, (low, high) in INT_RANGES.items():
            if not isinstance(value := given[name], int) or not low <= value < high:
                raise DataError(f"--data.{name} {value}: expected an int from {low} to {high - 1}")
        if not isinstance(num_workers, int) or num_workers < 0:
            raise DataError(f"--data.num_workers {num_workers}: expected an int >= 0")
        # Each worker a process of the fit's size: 10,000 of them (torch only warns) hung the fit until the kernel
        # killed it for memory, and left workers behind (an audit). More than the CPUs gain nothing here.
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        if num_workers > cpus:
            raise DataError(
                f"--data.num_workers {num_workers}: more than the {cpus} CPUs this process may use: give 0 (the "
                f"fastest for in-memory tensors) to {cpus}"
            )
        if isinstance(augment, type):  # from Python: failed in the first training batch, in a traceback
            raise DataError(f"--data.augment {augment.__name__}: the class, not a transform: give {augment.__name__}()")
        if augment is not None and not callable(augment):
            raise DataError(
                f"--data.augment {augment!r}: not a transform (a torch.nn.Module or callable of a batch of images, "
                "such as mnist_pl.augment.RandomAffine(degrees=15))"
            )
        if not isinstance(val_size, int) or val_size < 0:  # the CLI's type says so too; from Python, -5 gave 5
            raise DataError(f"--data.val_size {val_size}: expected an int >= 0")  # training images, None a TypeError
        if not isinstance(download, bool):  # None was taken for false
            raise DataError(f"--data.download {download}: expected true or false")
        if val_size >= 60000:
            raise DataError(f"--data.val_size {val_size} leaves no training images: use fewer than 60000")
        # As a checkpoint's settings are checked when read: an infinite std trained on blank images, and
        # the run's own checkpoints were then refused as damaged.
        for name, value, expected in (("mean", mean, "a finite number"), ("std", std, "a finite number > 0")):
            if not TRAINED_SETTINGS[name](value):
                raise DataError(f"--data.{name} {value}: expected {expected}")
        self.save_hyperparameters(ignore=objects_left_out("augment"))
        self.augment = per_image(augment)  # hparams hold its config (class path and arguments), this the module
        default_mean, default_std = STATS[dataset]
        self.mean = default_mean if mean is None else mean
        self.std = default_std if std is None else std
        self._tables: dict[tuple[torch.device, float, float], Tensor] = {}  # normalize's lookup tables
        self.classes: list[str] = DATASETS[dataset].classes
        self.train_set: TensorPairDataset | None = None
        self.val_set: TensorPairDataset | None = None
        self.test_set: TensorPairDataset | None = None
        # predict: what each row is (a file, or a test image's index), its images and labels (-1: not
        # known), and the files that failed
        self.predict_names: list[str] = []
        self.predict_set: TensorPairDataset | None = None
        self.predict_errors: list[tuple[str, str]] = []
        self._resume_batches = 0  # batches of the epoch a checkpoint from its middle had trained
        self._resume_epoch: int | None = None  # the epoch a resumed fit goes on in, by its checkpoint

    @classmethod
    def load_from_checkpoint(cls, checkpoint_path: Any, *args: Any, **kwargs: Any) -> "MNISTDataModule":
        """Lightning's, its keywords checked as the model's are (``checkpoints.overrides_checked``)."""
        with overrides_checked(cls, L.LightningDataModule.load_from_checkpoint, kwargs):
            return super().load_from_checkpoint(checkpoint_path, *args, **kwargs)

    def _predicting_files(self) -> bool:
        return self.hparams.predict_path is not None and self.trainer is not None and self.trainer.predicting

    def prepare_data(self) -> None:
        if self._predicting_files():  # the user's images need no dataset
            return
        ensure_files(Path(self.hparams.data_dir), self.hparams.download, self.hparams.dataset)

    def setup(self, stage: str | None = None) -> None:
        # Idempotent: a second call must not re-split (that could leak validation images).
        if self.train_set is not None or self._predicting_files():
            return
        cls = DATASETS[self.hparams.dataset]
        train = cls(self.hparams.data_dir, train=True)
        test = cls(self.hparams.data_dir, train=False)
        val_size = self.hparams.val_size
        order = torch.randperm(len(train.targets), generator=torch.Generator().manual_seed(self.hparams.split_seed))
        train_idx, val_idx = order[val_size:], order[:val_size]
        self.train_set = TensorPairDataset(train.data[train_idx], train.targets[train_idx])
        self.val_set = TensorPairDataset(train.data[val_idx], train.targets[val_idx])
        self.test_set = TensorPairDataset(test.data, test.targets)

    def _loader(self, dataset: TensorPairDataset | None, batch_size: int, stage: str) -> DataLoader:
        if dataset is None:  # called by hand before setup: "object of type 'NoneType' has no len()"
            split = {"train": "fit", "val": "fit"}.get(stage, stage)
            raise UserError(
                f"MNISTDataModule.{stage}_dataloader(): its split is not loaded: call dm.setup({split!r}) first, "
                "or give the trainer datamodule=dm"
            )
        # A DistributedSampler even in one process: its order is a pure function of (seed, epoch),
        # Lightning calls set_epoch on it every epoch (so a resumed run replays the right order),
        # and under DDP each rank reads its own shard. Lightning keeps a sampler it is given.
        trainer = self.trainer
        replicas, rank = (trainer.world_size, trainer.global_rank) if trainer else (1, 0)
        limit = getattr(trainer, f"limit_{stage}_batches", 1.0)
        if stage == "train":  # shards of equal length, as DDP's gradient sync needs every rank's steps
            sampler = EpochSampler(dataset, replicas, rank, shuffle=True, seed=self.hparams.shuffle_seed)
        elif len(dataset) >= replicas and not (isinstance(limit, float) and limit < 1.0):
            # Evaluation: each image once. DistributedSampler evens out the shards by repeating the
            # first images, which then counted twice in val/test accuracy and loss (5000 images on
            # 3 ranks: 5001). Shards one image apart are safe: nothing syncs between evaluation
            # batches (DDP syncs buffers in the first forward only; metrics reduce at the epoch's end).
            sampler = UnrepeatedDistributedSampler(dataset, replicas, rank, shuffle=False)
        else:
            # Fewer images than ranks: each rank needs one (predict writes each image once). A
            # fraction of the batches: of shards one batch apart, it was none on some rank only,
            # which stopped there while the others waited for it.
            sampler = DistributedSampler(dataset, replicas, rank, shuffle=False)
        return DataLoader(
            dataset,
            batch_size=batch_size,
            sampler=sampler,
            collate_fn=_as_batch,
            # Not persistent: each epoch's iterator draws its workers' seed from the torch RNG, as
            # without workers; kept across epochs, it drew once, and the dropout masks of every later
            # epoch (and of a resumed run's) were other than those of a run without workers.
            num_workers=self.hparams.num_workers,
            worker_init_fn=_leave_stops_to_the_main_process,
        )

    def train_dataloader(self) -> DataLoader:
        loader = self._loader(self.train_set, self.hparams.batch_size, "train")
        # The epoch it starts in (a resumed run's), as Lightning numbers it for set_epoch: worker
        # processes fetch the first batches as Lightning makes the loader's iterator, before it
        # sets the epoch; they were epoch 0's. The checkpoint's, where it has one: a schedule over
        # the run's steps (OneCycleLR) has Lightning make the loader before it restores its loops.
        trainer = self.trainer if isinstance(self.trainer, L.Trainer) else None  # or used without one
        epoch = trainer.fit_loop.epoch_progress.current.processed if trainer else 0
        loader.sampler.set_epoch(epoch if self._resume_epoch is None else self._resume_epoch)
        loader.sampler.skip = self._resume_batches * self.hparams.batch_size
        self._resume_batches, self._resume_epoch = 0, None  # once: the next epochs start at their first batch
        return loader

    def val_dataloader(self) -> DataLoader:
        # Lightning validated the empty split without a word but its own warning (validate returned []).
        if self.val_set is not None and not len(self.val_set):
            raise UserError(
                "MNISTDataModule.val_dataloader(): --data.val_size 0 holds out no validation images: give a "
                "val_size, such as 5000 (or, for a fit without validation, Trainer(limit_val_batches=0))"
            )
        return self._loader(self.val_set, self.hparams.eval_batch_size, "val")

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set, self.hparams.eval_batch_size, "test")

    def predict_dataloader(self) -> DataLoader:
        """The images of ``predict_path``, or else the test split. An image in a folder named after a
        digit (``3/``, as torchvision's ``ImageFolder`` lays out classes) has that label, the others -1."""
        if self.hparams.predict_path is None:
            self.predict_names = [f"test[{i}]" for i in range(len(self.test_set or ()))]  # None: _loader says so
            self.predict_set = self.test_set
            return self._loader(self.test_set, self.hparams.eval_batch_size, "predict")
        spec = self.hparams.predict_path
        refuse_own_images_for(self.hparams.dataset, spec)
        # Every process reads every file (its sampler then takes its share): one of them says what it found.
        say = self.trainer is None or self.trainer.is_global_zero
        files, others = find_images(spec)
        if others and say:
            print(
                f"note: --data.predict_path {spec}: {len(others)} file(s) left out, not images by their names "
                f"({suffixes(others)})",
                file=sys.stderr,
            )
        images, labels, self.predict_names, self.predict_errors = [], [], [], []
        for path in files:
            # Lightning's handler notes a SIGTERM, and the stage stops at its first batch: after every file
            # was read (8,000 took 6 s more; large photos, minutes: a scheduler's SIGKILL may come first).
            # Not under DDP: a rank stopping alone here would leave the others waiting for it.
            if self.trainer is not None and self.trainer.received_sigterm and self.trainer.world_size == 1:
                raise SIGTERMException
            try:
                images.append(load_digit(path))
                labels.append(int(path.parent.name) if path.parent.name in DIGITS else -1)
                self.predict_names.append(str(path))
            except UnreadableImageError as err:
                self.predict_errors.append((str(path), err.reason))
                if say and len(files) > 1:  # one file's is the command's error line
                    print(f"error: {err}", file=sys.stderr)
        if not images and len(files) == 1:
            raise UserError(f"{files[0]}: {self.predict_errors[0][1]}")
        if not images:
            raise UserError(f"--data.predict_path {self.hparams.predict_path}: none of the files is a readable image")
        self.predict_set = TensorPairDataset(torch.stack(images), torch.tensor(labels))
        return self._loader(self.predict_set, self.hparams.eval_batch_size, "predict")

    def normalize(self, images: Tensor, augment: nn.Module | None = None) -> Tensor:
        """uint8 (N, 28, 28) or (N, 1, 28, 28) -> float (N, 1, 28, 28), bit for bit as ``ToTensor`` then
        ``Normalize`` on a CPU.

        Float images are taken as pixel levels from 0 to 255 too, as the uint8 ones: pixels in [0, 1] (what
        ``export``'s models take) are the model's after ``(x - mean) / std`` alone.
        """
        if images.dim() == 4 and images.shape[1] == 1:  # with its channel (read_image's): the channel was doubled
            images = images.squeeze(1)
        # One image (28, 28) came back (28, 1, 28), RGB ones (N, 1, 3, 28, 28), without a word (an audit).
        if images.dim() != 3:
            raise UserError(
                f"MNISTDataModule.normalize: images of shape {tuple(images.shape)}: give (N, 28, 28) or "
                "(N, 1, 28, 28), grey (one image: image[None]; RGB: torchvision's read_image(path, ImageReadMode.GRAY))"
            )
        if augment is not None or images.dtype != torch.uint8:  # floats of any value: the arithmetic itself
            pixels = images.unsqueeze(1).float().div(255)
            return (_augmented(augment, pixels) if augment is not None else pixels).sub(self.mean).div(self.std)
        # The 256 values a pixel can take, normalised once on the CPU, then looked up: a GPU divides by a
        # number through its reciprocal, 1 ulp off the reference for some pixels (seen on an H200), and
        # its four launches (float, /255, -mean, /std) become two. (On a CPU the lookup is 7 us slower
        # per batch of 64: 0.1% of a LeNet step.)
        key = (images.device, self.mean, self.std)
        if (table := self._tables.get(key)) is None:
            table = torch.arange(256).float().div(255).sub(self.mean).div(self.std)
            table = self._tables[key] = table.to(images.device)
        return table.index_select(0, images.reshape(-1).int()).view(len(images), 1, *images.shape[1:])

    def state_dict(self) -> dict[str, Any]:
        # In every checkpoint: a checkpoint is only tested or resumed on the data it learned from.
        state: dict[str, Any] = {"dataset": self.hparams.dataset, **self._learned_from()}
        trainer = self.trainer
        if trainer is not None and trainer.state.fn == "fit":
            # Written in the middle of an epoch (--trainer.val_check_interval, --checkpoint.every_n_train_steps):
            # the batches trained. "processed": a save at a batch's end comes before Lightning counts it completed.
            # Written by the epoch's end hooks, the epoch is over for Lightning, which resumes with the next one:
            # also one cut short by --trainer.max_steps (its skip was applied to the next epoch's order).
            done = trainer.fit_loop.epoch_loop.batch_progress.current.processed
            epoch = trainer.fit_loop.epoch_progress.current
            in_epoch = epoch.processed < epoch.ready and done < trainer.num_training_batches
            state["batches_done"] = done if in_epoch else 0
            # The epoch a resume goes on in: the next one after an epoch's last batch or end hooks, this
            # one outside any (an LR finder's checkpoint before the first, one written as the fit ends).
            state["epoch"] = epoch.processed + (not in_epoch and epoch.processed < epoch.ready)
            # What the skip of a resumed epoch assumes: the same order, cut into the same shards and batches.
            state["batch_size"] = self.hparams.batch_size
            state["processes"] = trainer.world_size
            state["limit_train_batches"] = trainer.limit_train_batches  # the epoch's end
            state["shuffle_seed"] = self.hparams.shuffle_seed
            state["accumulate_grad_batches"] = trainer.accumulate_grad_batches
        return state

    def _learned_from(self) -> dict[str, Any]:
        return {
            "val_size": self.hparams.val_size,
            "split_seed": self.hparams.split_seed,
            "mean": self.mean,
            "std": self.std,
        }

    def refuse_other_data(self, state_dict: dict[str, Any]) -> None:
        """Refuses to run the trainer's stage on other data than a checkpoint's network learned from (its data
        state, ``state_dict``): another dataset or normalisation, or a validation of images it trained on."""
        trained_on = state_dict.get("dataset", "MNIST")
        if trained_on != self.hparams.dataset:
            raise DataError(
                f"the checkpoint was trained on {trained_on}, the data is {self.hparams.dataset}: "
                f"use --data.dataset {trained_on}"
            )
        # The CLI takes these from the checkpoint's settings; a data module built in Python may not. The
        # split matters where its validation images are used (a test or predict uses none of them);
        # outside a trainer (load_from_checkpoint with other settings given on purpose), none does.
        fn = self.trainer.state.fn if self.trainer is not None else None
        learned_from = self._learned_from()
        if fn is None:
            learned_from = {}
        elif fn in ("test", "predict"):
            learned_from = {key: learned_from[key] for key in ("mean", "std")}
        for key, ours in learned_from.items():
            theirs = state_dict.get(key)  # None: a checkpoint from before 2026-12-03
            if theirs is not None and theirs != ours:
                why = "another normalisation" if key in ("mean", "std") else "validation images it trained on"
                raise DataError(
                    f"--data.{key} {ours}: the checkpoint was trained with {theirs} ({why}): use --data.{key} {theirs}"
                )

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.refuse_other_data(state_dict)
        fn = self.trainer.state.fn if self.trainer is not None else None
        # Only a fit goes on from the checkpoint's batch. After a test or validate from it (they train
        # none), a fit of this data module in Python skipped those batches of its first epoch.
        self._resume_batches = state_dict.get("batches_done", 0) if fn == "fit" else 0
        self._resume_epoch = state_dict.get("epoch") if fn == "fit" else None  # None: a checkpoint of before 2026-12-05
        if not self._resume_batches:
            return
        # Lightning goes on counting the epoch's batches: in another order, shards or batch size the
        # resumed epoch would skip other images than those trained, and train some twice; to another
        # limit, it was longer than either (3 batches of 5 skipped, then 4 more).
        processes = state_dict.get("processes", self.trainer.world_size)
        if processes != self.trainer.world_size:
            raise DataError(
                f"--trainer.devices: the checkpoint is from the middle of an epoch trained in {processes} processes, "
                f"this run has {self.trainer.world_size}: resume with as many (--trainer.devices x "
                "--trainer.num_nodes), or from an epoch's end"
            )
        for option, key, ours, epoch in (
            ("--data.batch_size", "batch_size", self.hparams.batch_size, "trained in batches of"),
            ("--trainer.limit_train_batches", "limit_train_batches", self.trainer.limit_train_batches, "limited to"),
            ("--data.shuffle_seed", "shuffle_seed", self.hparams.shuffle_seed, "shuffled with seed"),
        ):
            if (theirs := state_dict.get(key, ours)) != ours:
                raise DataError(
                    f"{option} {ours}: the checkpoint is from the middle of an epoch {epoch} {theirs}: "
                    f"resume with {option} {theirs}, or from an epoch's end"
                )
        # Lightning validates, and saves, after batches counted, not steps: with a val_check_interval of 3 and
        # accumulate_grad_batches 2, between the batches of a step. A fit from it trained on without their
        # gradients, without a word (a review: another last.ckpt than the run's).
        if self._resume_batches % state_dict.get("accumulate_grad_batches", 1):
            rank_zero_warn(
                f"the checkpoint was written after batch {self._resume_batches} of its epoch, between batches "
                f"accumulated for steps of {state_dict['accumulate_grad_batches']}: the gradients of those since its "
                "last step are in no checkpoint, and this fit goes on without them (for an exact resume, validate at a "
                "multiple of --trainer.accumulate_grad_batches)"
            )

    def on_after_batch_transfer(
        self, batch: tuple[Tensor, Tensor] | Tensor, dataloader_idx: int
    ) -> tuple[Tensor, Tensor] | Tensor:
        if self.trainer is None:  # called by hand, outside a Trainer: no precision to cast to
            return batch if isinstance(batch, Tensor) else (self.normalize(batch[0]), batch[1])
        if isinstance(batch, Tensor):  # the model's example input, for its summary: normalised already
            return self.trainer.precision_plugin.convert_input(batch)
        images, labels = batch
        images = self.normalize(images, self.augment if self.trainer.training else None)
        # Lightning casts a batch to the input dtype of bf16-true or 64-true before the transfer
        # hooks, when the images are still uint8: the float images are cast here.
        return self.trainer.precision_plugin.convert_input(images), labels
