"""mnist-tui: watch, debug and understand a Paddle CNN while it trains on MNIST."""

from mnist_tui.version import __version__

__all__ = ["Monitor", "__version__"]


def __getattr__(name: str):
    """`mnist_tui.Monitor` imports Paddle, so only when asked for (the app never is)."""
    if name == "Monitor":
        from mnist_tui.engine.monitor import Monitor

        return Monitor
    raise AttributeError(name)
