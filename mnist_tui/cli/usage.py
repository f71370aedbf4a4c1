"""How every command refuses: one line, `mnist-tui: <why>`, exit status 2, never a traceback."""

from __future__ import annotations

import argparse
import sys

from mnist_tui import exit_codes
from mnist_tui.errors import UsageError


class OneLineParser(argparse.ArgumentParser):
    def error(self, message: str):  # one line instead of usage + message
        self.exit(exit_codes.USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")


def fail(message: str, out=None) -> int:
    print(f"mnist-tui: {message}", file=out or sys.stderr)
    return exit_codes.USAGE


def os_error_line(exc: OSError) -> str:
    return f"{exc.filename}: {exc.strerror}" if exc.filename and exc.strerror else str(exc)


def require_terminal() -> None:
    """The app draws on a terminal and reads its keys from it; started without one (a script, nohup,
    stdin from /dev/null) Textual would spin on the empty input forever, so it is refused instead."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError("the app needs a terminal (stdin and stdout); --headless trains without one, "
                         "and mnist-tui watch opens the run later from a terminal")
