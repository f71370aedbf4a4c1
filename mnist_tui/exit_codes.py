"""The exit statuses of every command, in one place: docs/usage.md#exit-statuses is their table.

Plain ints, so they print, compare and pass through `sys.exit` and Textual's `return_code` as numbers.
"""

from __future__ import annotations

from collections.abc import Iterable

from mnist_tui.run.status import RunStatus

OK = 0  # the run finished, or was left training
FAILED = 1  # training failed, or its trainer crashed
USAGE = 2  # bad usage, settings, data or folder; the app without a terminal (errors.UsageError)
DIVERGED = 3  # training diverged or collapsed (docs/diagnosis.md)
STOPPED = 130  # stopped: Ctrl+C, SIGTERM, a hang-up, a viewer's stop (128 + SIGINT, as shells say it)

_OF_RUN = {RunStatus.DIVERGED: DIVERGED, RunStatus.ERROR: FAILED, RunStatus.CRASHED: FAILED,
           RunStatus.STOPPED: STOPPED}


def of_run(status: RunStatus) -> int:
    """How one run ended, as its exit status; OK for a run that finished or has not ended yet."""
    return _OF_RUN.get(status, OK)


def of_returned(status: RunStatus) -> int:
    """A trainer that has returned: how its run ended, and FAILED when it returned without an
    ending (a --paused resume with no batch left returns paused), which viewers call an error."""
    return of_run(status) if status.ended else FAILED


def of_sweep(statuses: Iterable[RunStatus], interrupted: bool) -> int:
    """A sweep's: the first of STOPPED (the sweep interrupted, or a run stopped), FAILED, DIVERGED
    that one of its runs has; else OK."""
    codes = {of_run(status) for status in statuses} | ({STOPPED} if interrupted else set())
    return next((code for code in (STOPPED, FAILED, DIVERGED) if code in codes), OK)
