"""MNIST from IDX files: parse with numpy, check integrity, split as the course does.

Every problem with a file is raised as DataError with the file's name in the message, so the
command line can print one clear line and exit with status 2.
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from mnist_tui.engine.gunzip import gunzip
from mnist_tui.errors import UsageError

TRAIN_IMAGES = "train-images-idx3-ubyte"
TRAIN_LABELS = "train-labels-idx1-ubyte"
TEST_IMAGES = "t10k-images-idx3-ubyte"
TEST_LABELS = "t10k-labels-idx1-ubyte"

IMAGE_MAGIC = 2051
LABEL_MAGIC = 2049
TRAIN_RECORDS = 60_000
TEST_RECORDS = 10_000
TRAIN_SPLIT = 50_000

# md5 of the decompressed bytes of the bundled copy (the widely published values).
BUNDLED_MD5 = {
    TRAIN_IMAGES: "6bbc9ace898e44ae57da46a324031adb",
    TRAIN_LABELS: "a25bea736e30d166cdddb491f175f624",
    TEST_IMAGES: "2646ac647ad5339dbf082846283269ea",
    TEST_LABELS: "27ae3e4e09519cfbb04c329615203637",
}


class DataError(UsageError):
    """A data file is missing or not what MNIST should be."""


@dataclass(frozen=True)
class Split:
    """Images as float32 [N, 1, 28, 28] scaled to [-1, 1] (the course's normalisation), labels int64 [N]."""

    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def head(self, limit: int | None) -> Split:
        if limit is None or limit >= len(self):
            return self
        return Split(self.images[:limit], self.labels[:limit])

    def take(self, indices: np.ndarray) -> Split:
        return Split(self.images[indices], self.labels[indices])


@dataclass(frozen=True)
class Mnist:
    train: Split
    val: Split
    test: Split
    source: str


def bundled_dir() -> Path:
    return Path(str(resources.files("mnist_tui") / "mnist_data"))


def _find(directory: Path, stem: str) -> Path:
    for name in (stem + ".gz", stem, stem.replace("-idx", ".idx")):
        path = directory / name
        if path.is_file():
            return path
    raise DataError(f"{directory / (stem + '.gz')}: file not found")


def _read_bytes(path: Path) -> bytes:
    try:
        return gunzip(path) if path.suffix == ".gz" else path.read_bytes()
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as exc:
        raise DataError(f"{path}: cannot read ({exc})") from None


def _parse_idx(path: Path, raw: bytes, magic: int, item_shape: tuple[int, ...]) -> np.ndarray:
    header = 4 * (1 + 1 + len(item_shape))
    if len(raw) < header:
        raise DataError(f"{path}: truncated header ({len(raw)} bytes)")
    found = int.from_bytes(raw[0:4], "big")
    if found != magic:
        raise DataError(f"{path}: wrong magic number {found}, expected {magic}")
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(1 + len(item_shape))]
    if tuple(dims[1:]) != item_shape:
        raise DataError(f"{path}: item shape {tuple(dims[1:])}, expected {item_shape}")
    expected = header + int(np.prod(dims))
    if len(raw) != expected:
        raise DataError(f"{path}: {len(raw)} bytes, header promises {expected} (truncated or padded)")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _load_pair(directory: Path, images_stem: str, labels_stem: str, count: int, check_md5: bool):
    arrays = []
    for stem, magic, shape in ((images_stem, IMAGE_MAGIC, (28, 28)), (labels_stem, LABEL_MAGIC, ())):
        path = _find(directory, stem)
        raw = _read_bytes(path)
        if check_md5 and hashlib.md5(raw).hexdigest() != BUNDLED_MD5[stem]:
            raise DataError(f"{path}: md5 of the decompressed bytes does not match the bundled MNIST")
        arrays.append((path, _parse_idx(path, raw, magic, shape)))
    (images_path, images), (labels_path, labels) = arrays
    if len(images) != len(labels):
        raise DataError(f"{labels_path}: {len(labels)} labels for {len(images)} images in {images_path.name}")
    if len(images) != count:
        raise DataError(f"{images_path}: {len(images)} records, expected {count}")
    if labels.size and labels.max() > 9:
        raise DataError(f"{labels_path}: label {int(labels.max())} outside 0-9")
    return images, labels


def _to_split(images: np.ndarray, labels: np.ndarray) -> Split:
    x = (images.astype(np.float32) / 127.5 - 1.0)[:, None, :, :]
    return Split(np.ascontiguousarray(x), labels.astype(np.int64))


def load_mnist(data_dir: str | Path | None = None) -> Mnist:
    """Load the bundled copy (md5-checked) or the four files from data_dir (gzipped or not)."""
    bundled = data_dir is None
    directory = bundled_dir() if bundled else Path(data_dir)
    if not directory.is_dir():
        raise DataError(f"{directory}: data directory not found")
    train_x, train_y = _load_pair(directory, TRAIN_IMAGES, TRAIN_LABELS, TRAIN_RECORDS, bundled)
    test_x, test_y = _load_pair(directory, TEST_IMAGES, TEST_LABELS, TEST_RECORDS, bundled)
    return Mnist(
        train=_to_split(train_x[:TRAIN_SPLIT], train_y[:TRAIN_SPLIT]),
        val=_to_split(train_x[TRAIN_SPLIT:], train_y[TRAIN_SPLIT:]),
        test=_to_split(test_x, test_y),
        source="bundled" if bundled else str(directory),
    )
