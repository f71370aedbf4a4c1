"""`mnist-tui`: the entry point. A command's first word picks its module, each with `main(argv)`;
without one, `mnist-tui [options]` trains (cli/train.py)."""

from __future__ import annotations

import difflib
import sys

from mnist_tui.cli.usage import fail

COMMANDS = ("watch", "runs", "sweep", "export")


def unknown_command(word: str) -> str:
    near = difflib.get_close_matches(word, COMMANDS, n=1, cutoff=0.5)
    hint = f"did you mean `mnist-tui {near[0]}`?" if near else f"the commands are {', '.join(COMMANDS)}"
    return f"unknown command {word!r}: {hint} (see mnist-tui --help)"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    word = argv[0] if argv else "-"  # no word: train
    if word == "watch":
        from mnist_tui.cli import watch as command
    elif word == "runs":
        from mnist_tui.cli import runs as command
    elif word == "sweep":
        from mnist_tui.cli import sweep as command
    elif word == "export":
        from mnist_tui.cli import export as command
    elif not word.startswith("-"):  # no option takes a bare word first: a command, mistyped
        return fail(unknown_command(word))
    else:
        from mnist_tui.cli import train

        return train.main(argv)
    return command.main(argv[1:])


def entry() -> None:
    sys.exit(main())
