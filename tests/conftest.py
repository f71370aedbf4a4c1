"""Shared fixtures, made once per test session: the real bundled MNIST, and a long scripted run
that views only read."""

from __future__ import annotations

import pytest

from mnist_tui.engine.data import load_mnist


@pytest.fixture(scope="session")
def mnist():
    return load_mnist()


@pytest.fixture(scope="session")
def spike_run(tmp_path_factory):
    """A finished run of 100,000 batches whose loss is flat but for one spike (scripted.spike_events),
    written once (a second's work) for the tests that open it: viewers never write to a run folder."""
    from scripted import spike_events, write_run

    return write_run(tmp_path_factory.mktemp("spike"), "long", spike_events())
