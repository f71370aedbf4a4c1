"""What every test shares. Waits: poll a condition on state until it holds, or fail naming what never
happened. No test proves anything by sleeping; a wait's limit only matters when it fails, so it is
generous (a loaded 2-core machine runs these tests too)."""

from __future__ import annotations

import time
from collections.abc import Callable

TIMEOUT_S = 90.0
POLL_S = 0.02


def _failure(what: str, timeout: float, now: Callable[[], object] | None) -> AssertionError:
    seen = f" (last seen: {now()!r})" if now is not None else ""
    return AssertionError(f"not within {timeout:g} s: {what}{seen}")


def wait_until(condition: Callable[[], object], what: str, timeout: float = TIMEOUT_S,
               now: Callable[[], object] | None = None) -> None:
    """Block until `condition()` is true. `what` names it for the failure message, `now` (optional)
    says what there was instead."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise _failure(what, timeout, now)
        time.sleep(POLL_S)


async def wait_for(pilot, condition: Callable[[], object], what: str, timeout: float = TIMEOUT_S,
                   now: Callable[[], object] | None = None) -> None:
    """Let the app run (messages, timers, workers) until `condition()` is true; see `wait_until`."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise _failure(what, timeout, now)
        await pilot.pause(POLL_S)


def notified(app) -> str:
    """Every notification the app has shown and not yet dismissed, one a line."""
    return "\n".join(n.message for n in app._notifications)


def one_line(capsys, status: int) -> str:
    """A refusal as the command line gives it: exit status 2 and one line on stderr, no traceback;
    returns the line."""
    captured = capsys.readouterr()
    assert status == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mnist-tui: "), captured.err
    assert "Traceback" not in captured.err + captured.out
    return lines[0]


async def drawn(pilot) -> None:
    """Wait until the app shows all it will without a new event: the run view (if any) has read its
    log and drawn it, no worker (a folder read, the crash panel's advice, the runs table's read) is
    under way, and the shown tab's chart is drawn now rather than on its timer. A scripted run's
    log is whole before the app opens, so its first read takes all of it: pictures wait for this."""
    from mnist_tui.tui.screens.run_screen import RunScreen

    app = pilot.app
    screen = next((s for s in app.screen_stack if isinstance(s, RunScreen)), None)
    if screen is not None:
        await wait_for(pilot, lambda: screen._opened and screen.reading is None and not screen.state.dirty,
                       "the run's log read and drawn")
    if hasattr(app.screen, "loaded"):  # the runs table and the compare view read their folders in a worker
        await wait_for(pilot, lambda: app.screen.loaded, f"{type(app.screen).__name__}'s first read")
    await wait_for(pilot, lambda: all(w.is_finished for w in app.workers), "no worker under way",
                   now=lambda: [w.name for w in app.workers if not w.is_finished])
    if screen is not None and app.screen is screen:
        screen._charts_dirty |= {"history-chart", "validation-chart"}
        screen._replot()
    await pilot.pause()
    await pilot.wait_for_scheduled_animations()
