"""MNIST as a LightningDataModule: offline-first files, a fixed validation split, in-memory batches.

Each split is held as two tensors (uint8 images, int64 labels) and a batch is cut from them with
one indexing operation; normalisation runs once per batch, on the device that trains. Against the
tutorial pipeline (per-sample PIL image, ``ToTensor``, ``Normalize``, collation) this removes most
of the time an epoch spends outside the network on a CPU.
"""

import gzip
import hashlib
import shutil
from pathlib import Path

import lightning as L
import torch
from jsonargparse.typing import NonNegativeInt, PositiveInt
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, DistributedSampler
from torchvision.datasets import MNIST
from torchvision.datasets.utils import download_url

from mnist_pl.errors import UserError

# MD5 of the decompressed IDX files: the official sums that loaders check.
MNIST_MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}


class DataError(UserError):
    """A data problem the user can fix."""


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def ensure_mnist_files(root: Path, download: bool) -> None:
    """Make the four decompressed IDX files exist under ``root/MNIST/raw`` with their official MD5.

    Order: files already there, then the bundled ``.gz`` next to them, then (if ``download``)
    torchvision's mirrors. A file is written under a temporary name and renamed once its checksum
    matches, so a crash or a corrupt archive never leaves a bad file where a good one is expected.
    """
    raw = root / "MNIST" / "raw"
    for name, md5 in MNIST_MD5.items():
        target = raw / name
        if target.exists():
            if _md5(target) != md5:
                raise DataError(f"{target} is corrupt (MD5 mismatch): delete it and run again")
            continue
        gz = raw / f"{name}.gz"
        if not gz.exists():
            if not download:
                raise DataError(f"{gz} is missing: put the four MNIST .gz files in {raw} or set --data.download true")
            _download(gz)
        tmp = target.with_suffix(".part")
        try:
            dst = open(tmp, "wb")  # noqa: SIM115 (closed by the with below)
        except OSError as err:
            raise DataError(
                f"{raw} is not writable ({err.strerror}): make it writable, or decompress the four "
                f".gz files there yourself (gunzip -k), or point --data.data_dir at a writable copy"
            ) from err
        try:
            with gzip.open(gz, "rb") as src, dst:
                shutil.copyfileobj(src, dst)
        except (OSError, EOFError) as err:
            tmp.unlink(missing_ok=True)
            raise DataError(f"{gz} is not a valid gzip file ({err}): replace it with a good copy") from err
        if _md5(tmp) != md5:
            tmp.unlink()
            raise DataError(f"{gz} decompresses to the wrong MD5: replace it with a good copy")
        tmp.replace(target)


def _download(gz: Path) -> None:
    gz.parent.mkdir(parents=True, exist_ok=True)
    errors = []
    for mirror in MNIST.mirrors:
        try:
            download_url(f"{mirror}{gz.name}", root=str(gz.parent), filename=gz.name)
            return
        except Exception as err:  # every mirror is tried before giving up
            errors.append(f"{mirror}: {err}")
    raise DataError(
        f"{gz} is missing and could not be downloaded ({'; '.join(errors)}): "
        f"copy the four MNIST .gz files into {gz.parent}"
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
        index = torch.tensor(indices)
        return self.images[index], self.labels[index]


def _as_batch(batch: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
    """Collate for ``__getitems__``: the batch is already stacked."""
    return batch


class MNISTDataModule(L.LightningDataModule):
    """MNIST train/val/test: 60,000 training images split into train and a fixed validation set,
    and the official 10,000 test images.

    Args:
        data_dir: folder holding ``MNIST/raw``.
        batch_size: training batch size.
        eval_batch_size: batch size for validation, test and predict.
        val_size: images held out of the 60,000 for validation.
        split_seed: seed of the train/val split, separate from the training seed so the
            validation images never change between runs.
        shuffle_seed: seed of the per-epoch training order (epoch ``e`` uses ``shuffle_seed + e``).
        mean: normalisation mean of the pixel values in [0, 1].
        std: normalisation standard deviation.
        num_workers: DataLoader worker processes; 0 is fastest for in-memory tensors.
        download: fetch files that are neither decompressed nor bundled from torchvision's mirrors.
    """

    def __init__(
        self,
        data_dir: str = "data",
        batch_size: PositiveInt = 64,
        eval_batch_size: PositiveInt = 1000,
        val_size: PositiveInt = 5000,
        split_seed: int = 42,
        shuffle_seed: int = 0,
        mean: float = 0.1307,
        std: float = 0.3081,
        num_workers: NonNegativeInt = 0,
        download: bool = True,
    ) -> None:
        super().__init__()
        if val_size >= 60000:
            raise DataError(f"--data.val_size {val_size} leaves no training images: use fewer than 60000")
        self.save_hyperparameters()
        self.train_set: TensorPairDataset | None = None
        self.val_set: TensorPairDataset | None = None
        self.test_set: TensorPairDataset | None = None

    def prepare_data(self) -> None:
        ensure_mnist_files(Path(self.hparams.data_dir), self.hparams.download)

    def setup(self, stage: str | None = None) -> None:
        # Idempotent: a second call must not re-split (that could leak validation images).
        if self.train_set is not None:
            return
        train = MNIST(self.hparams.data_dir, train=True)
        test = MNIST(self.hparams.data_dir, train=False)
        val_size = self.hparams.val_size
        order = torch.randperm(len(train.targets), generator=torch.Generator().manual_seed(self.hparams.split_seed))
        train_idx, val_idx = order[val_size:], order[:val_size]
        self.train_set = TensorPairDataset(train.data[train_idx], train.targets[train_idx])
        self.val_set = TensorPairDataset(train.data[val_idx], train.targets[val_idx])
        self.test_set = TensorPairDataset(test.data, test.targets)

    def _loader(self, dataset: TensorPairDataset, batch_size: int, shuffle: bool) -> DataLoader:
        # A DistributedSampler even in one process: its order is a pure function of (seed, epoch),
        # Lightning calls set_epoch on it every epoch (so a resumed run replays the right order),
        # and under DDP each rank reads its own shard. Lightning keeps a sampler it is given.
        trainer = self.trainer
        sampler = DistributedSampler(
            dataset,
            num_replicas=trainer.world_size if trainer else 1,
            rank=trainer.global_rank if trainer else 0,
            shuffle=shuffle,
            seed=self.hparams.shuffle_seed,
        )
        return DataLoader(
            dataset,
            batch_size=batch_size,
            sampler=sampler,
            collate_fn=_as_batch,
            num_workers=self.hparams.num_workers,
            persistent_workers=self.hparams.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, self.hparams.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, self.hparams.eval_batch_size, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set, self.hparams.eval_batch_size, shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        return self.test_dataloader()

    def normalize(self, images: Tensor) -> Tensor:
        """uint8 (N, 28, 28) -> float (N, 1, 28, 28), exactly as ``ToTensor`` then ``Normalize``."""
        return images.unsqueeze(1).float().div(255).sub(self.hparams.mean).div(self.hparams.std)

    def on_after_batch_transfer(self, batch: tuple[Tensor, Tensor], dataloader_idx: int) -> tuple[Tensor, Tensor]:
        images, labels = batch
        return self.normalize(images), labels
