"""`mnist-tui runs`: the runs table of --runs-dir (sort, open, mark, compare); never imports Paddle."""

from __future__ import annotations

from mnist_tui.cli.usage import OneLineParser, fail, require_terminal
from mnist_tui.errors import UsageError


def main(argv: list[str]) -> int:
    p = OneLineParser(prog="mnist-tui runs", description="The runs under --runs-dir: sort, open, mark and compare.")
    p.add_argument("--runs-dir", default="runs", help="default ./runs")
    args = p.parse_args(argv)
    try:
        require_terminal()
    except UsageError as exc:
        return fail(str(exc))
    from mnist_tui.tui.app import MnistApp, run_app

    return run_app(MnistApp(args.runs_dir, show_runs=True))
