"""Shared fixtures: the real bundled MNIST, loaded once per test session."""

from __future__ import annotations

import pytest

from mnist_tui.engine.data import load_mnist


@pytest.fixture(scope="session")
def mnist():
    return load_mnist()
