"""The bundled MNIST loads, checks itself, splits as the course does, and every bad file is named."""

from __future__ import annotations

import gzip
import shutil
import subprocess
import sys

import numpy as np
import pytest

from mnist_tui.engine.data import (
    TEST_IMAGES,
    TEST_LABELS,
    TRAIN_IMAGES,
    TRAIN_LABELS,
    DataError,
    bundled_dir,
    load_mnist,
)

STEMS = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)


def test_split_sizes_and_values(mnist):
    assert (len(mnist.train), len(mnist.val), len(mnist.test)) == (50_000, 10_000, 10_000)
    assert mnist.train.images.shape == (50_000, 1, 28, 28)
    assert mnist.train.images.dtype == np.float32
    assert mnist.train.images.min() == -1.0 and mnist.train.images.max() == 1.0
    assert set(np.unique(mnist.val.labels)) == set(range(10))
    assert mnist.source == "bundled"


def test_validation_is_the_last_10000_training_records(mnist, tmp_path):
    raw = gzip.decompress((bundled_dir() / f"{TRAIN_LABELS}.gz").read_bytes())
    labels = np.frombuffer(raw, np.uint8, offset=8)
    assert np.array_equal(mnist.train.labels, labels[:50_000])
    assert np.array_equal(mnist.val.labels, labels[50_000:])


@pytest.fixture(scope="module")
def raw_files():
    return {stem: gzip.decompress((bundled_dir() / f"{stem}.gz").read_bytes()) for stem in STEMS}


def write_dir(tmp_path, raw_files, changes=None, gz=False):
    changes = changes or {}
    for stem, raw in raw_files.items():
        data = changes.get(stem, raw)
        if data is None:
            continue
        if gz:
            (tmp_path / f"{stem}.gz").write_bytes(gzip.compress(data, compresslevel=1))
        else:
            (tmp_path / stem).write_bytes(data)
    return tmp_path


def test_data_dir_reads_uncompressed_files(tmp_path, raw_files, mnist):
    other = load_mnist(write_dir(tmp_path, raw_files))
    assert np.array_equal(other.test.labels, mnist.test.labels)
    assert other.source == str(tmp_path)


def with_header(raw: bytes, offset: int, value: int) -> bytes:
    return raw[:offset] + value.to_bytes(4, "big") + raw[offset + 4 :]


@pytest.mark.parametrize(
    "stem, mutate, message",
    [
        (TRAIN_IMAGES, lambda raw: None, "file not found"),
        (TRAIN_IMAGES, lambda raw: raw[: len(raw) // 2], "truncated or padded"),
        (TRAIN_LABELS, lambda raw: raw[:5], "truncated header"),
        (TRAIN_IMAGES, lambda raw: with_header(raw, 0, 2049), "wrong magic number 2049"),
        (TEST_LABELS, lambda raw: with_header(raw, 0, 1234), "wrong magic number 1234"),
        (TEST_LABELS, lambda raw: with_header(raw, 4, 9999)[: 8 + 9999], "9999 labels for 10000 images"),
        (TRAIN_LABELS, lambda raw: raw[:-1] + bytes([10]), "label 10 outside 0-9"),
    ],
)
def test_bad_files_are_named(tmp_path, raw_files, stem, mutate, message):
    directory = write_dir(tmp_path, raw_files, {stem: mutate(raw_files[stem])})
    with pytest.raises(DataError) as info:
        load_mnist(directory)
    assert message in str(info.value)
    assert stem in str(info.value)


def test_truncated_gzip_is_named(tmp_path, raw_files):
    directory = write_dir(tmp_path, {TEST_LABELS: raw_files[TEST_LABELS]}, gz=True)
    for stem in (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES):
        shutil.copy(bundled_dir() / f"{stem}.gz", directory)
    path = directory / f"{TEST_LABELS}.gz"
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(DataError, match=f"{TEST_LABELS}.gz: cannot read"):
        load_mnist(directory)


def test_missing_directory():
    with pytest.raises(DataError, match="data directory not found"):
        load_mnist("/nonexistent/mnist")


def test_bundled_md5_is_checked(monkeypatch):
    from mnist_tui.engine import data as module

    monkeypatch.setitem(module.BUNDLED_MD5, TEST_LABELS, "0" * 32)
    with pytest.raises(DataError, match="md5"):
        load_mnist()


FIRST_PADDLE = """
import paddle  # before numpy or zlib, as a script that starts with `import paddle` does
from pathlib import Path
from mnist_tui.engine.gunzip import libz_bound_to_paddle, loaded_libraries
from mnist_tui.engine.data import load_mnist
data = load_mnist()
names = [Path(name).name for name in loaded_libraries()]
libz = next(i for i, name in enumerate(names) if name.startswith("libz.so"))
print(paddle.__version__, libz > names.index("libpaddle.so"), libz_bound_to_paddle(), len(data.train),
      int(data.test.labels[:100].sum()))
"""


def test_mnist_loads_in_a_script_that_imports_paddle_first(mnist):
    """Paddle 2.x bundles its own zlib: there the bundled MNIST used to die with SIGSEGV in inflateReset2."""
    done = subprocess.run([sys.executable, "-c", FIRST_PADDLE], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-1500:]
    version, libz_after_paddle, bound, train, label_sum = done.stdout.split()[-5:]
    if libz_after_paddle == "True":  # Paddle loaded libz: it binds to Paddle's own zlib on Paddle 2
        assert bound == str(version.startswith("2."))
    assert (int(train), int(label_sum)) == (50_000, int(mnist.test.labels[:100].sum()))


def test_a_fresh_interpreter_decompresses_when_libz_is_paddles(monkeypatch, tmp_path, raw_files):
    from mnist_tui.engine import gunzip

    monkeypatch.setattr(gunzip, "libz_bound_to_paddle", lambda: True)
    path = bundled_dir() / f"{TEST_LABELS}.gz"
    assert gunzip.gunzip(path) == gzip.decompress(path.read_bytes())
    test_truncated_gzip_is_named(tmp_path, raw_files)  # a broken file is still named, from the child's error
