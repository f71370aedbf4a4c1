"""mnist-tui: watch, debug and understand a Paddle CNN while it trains on MNIST."""

__version__ = "0.1.0"


def __getattr__(name: str):
    """`mnist_tui.Monitor` imports Paddle, so only when asked for (the app never is)."""
    if name == "Monitor":
        from mnist_tui.engine.monitor import Monitor

        return Monitor
    raise AttributeError(name)
