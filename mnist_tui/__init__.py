"""mnist-tui: watch, debug and understand a Paddle CNN while it trains on MNIST."""

__version__ = "0.1.0"
