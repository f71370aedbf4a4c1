"""The package version, apart from the package root (whose lazy `Monitor` imports the engine)."""

__version__ = "0.1.0"
