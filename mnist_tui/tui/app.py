"""The app: a thin App that shows run folders. The run view, the runs table and the compare view
are screens; every one of them reads run folders, live or finished, whoever trains them.

`mnist-tui` starts a background trainer (background.py) and opens its run; `mnist-tui watch`
opens any run; `mnist-tui runs` opens the table. Paddle is never imported here.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path
from typing import ClassVar

from textual.app import App
from textual.binding import Binding
from textual.scrollbar import ScrollBar, ScrollBarRender

from mnist_tui import exit_codes
from mnist_tui.tui.controller import RunController
from mnist_tui.tui.messages import OpenRun, QuitFromRuns, RequestQuit, ShowTab, StopAndLeave
from mnist_tui.tui.screens.run_screen import RunScreen

MIN_SIZE = (60, 20)


class WholeCellScrollBar(ScrollBarRender):
    """Textual draws a scrollbar thumb's ends with eighth blocks (▁ ▅ ▇): beside the log and the
    tables of a monitor full of sparklines they read as stray data cells. Whole cells only."""

    VERTICAL_BARS: ClassVar[list[str]] = [" "] * 8


class MnistApp(App):
    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute, so subclasses elsewhere find it
    TITLE = "mnist-tui"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS: ClassVar = [
        # App-wide, so they work from any view on top of the run (snapshot, runs table, compare).
        Binding("1", "show_tab('training')", "Training", show=False),
        Binding("2", "show_tab('layers')", "Layers", show=False),
        Binding("3", "show_tab('validation')", "Validation", show=False),
        Binding("4", "show_runs", "Runs", show=False),
        Binding("ctrl+c", "interrupt", "Quit", show=False, priority=True),
    ]

    def __init__(self, runs_dir: str | Path = "runs", controller: RunController | None = None,
                 owns_run: bool = False, show_runs: bool = False, compare: list[Path] | None = None) -> None:
        """`controller`: the run to show first; `owns_run`: this app started its trainer, so
        Ctrl+C and SIGTERM stop it (a watcher only lets go)."""
        super().__init__()
        # No animations: the tab underline's slide alone repainted the screen ~20 times per switch,
        # on the cores training uses.
        self.animation_level = "none"
        ScrollBar.renderer = WholeCellScrollBar
        self.runs_dir = Path(runs_dir)
        self.controller = controller
        self.owns_run = owns_run
        self.show_runs_first = show_runs or controller is None
        self.compare_first = compare
        self.detached = False

    def on_mount(self) -> None:
        self._fit(self.size.width, self.size.height)
        if self.controller is not None:
            self.push_screen(RunScreen(self.controller))
        if self.show_runs_first:
            self.action_show_runs()
        if self.compare_first:
            from mnist_tui.tui.screens.compare_screen import CompareScreen

            self.push_screen(CompareScreen(self.compare_first, live=True))
        # SIGTERM (e.g. a scheduler ending the job) acts like Ctrl+C.
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, self.action_interrupt)

    def on_unmount(self) -> None:
        asyncio.get_running_loop().remove_signal_handler(signal.SIGTERM)
        if self.controller is not None:
            self.controller.close()

    def on_resize(self, event) -> None:
        self._fit(event.size.width, event.size.height)

    def _fit(self, width: int, height: int) -> None:
        small = width < MIN_SIZE[0] or height < MIN_SIZE[1]
        self.set_class(small, "-too-small")
        self.set_class(height >= 40, "-tall")

    def notify(self, message: str, *, title: str = "", severity: str = "information",
               timeout: float | None = None, markup: bool = False) -> None:
        """Plain text unless asked: notifications quote alerts, the trainer's refusals and paths."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)

    # ---- runs ----
    def _run_screen(self) -> RunScreen | None:
        return next((s for s in self.screen_stack if isinstance(s, RunScreen)), None)

    def on_open_run(self, message: OpenRun) -> None:
        """Show another run (from the runs table): its own controller, a fresh run view."""
        path = message.path
        if self.controller is not None and self.controller.run_path == Path(path):
            self._back_to_run_screen()
            return
        while len(self.screen_stack) > 1 and not isinstance(self.screen, RunScreen):
            self.pop_screen()
        if isinstance(self.screen, RunScreen):
            self.pop_screen()
        if self.controller is not None:
            self.controller.close()
        self.controller = RunController(path)
        self.owns_run = False
        self.push_screen(RunScreen(self.controller))

    def _back_to_run_screen(self) -> None:
        while len(self.screen_stack) > 1 and not isinstance(self.screen, RunScreen):
            self.pop_screen()

    def on_quit_from_runs(self, _message: QuitFromRuns) -> None:
        self._back_to_run_screen()
        self.screen.post_message(RequestQuit())

    def action_show_tab(self, tab: str) -> None:
        """Back to the run view, whatever is on top of it, at that tab."""
        run_screen = self._run_screen()
        if run_screen is None:
            from mnist_tui.tui.screens.runs_screen import NO_RUN_OPEN

            self.notify(NO_RUN_OPEN, timeout=3)
            return
        while self.screen is not run_screen:
            self.pop_screen()
        run_screen.post_message(ShowTab(tab))

    def action_show_runs(self) -> None:
        from mnist_tui.tui.screens.runs_screen import RunsScreen

        if isinstance(self.screen, RunsScreen):
            return
        self.push_screen(RunsScreen(self.runs_dir, can_go_back=self.controller is not None))

    # ---- leaving ----
    def leave(self, detached: bool = False) -> None:
        self.detached = detached
        self.exit(return_code=self.exit_status())

    def exit_status(self) -> int:
        """The shown run's end, as headless gives it (130: stopped); 0 while it still trains."""
        if self.detached or self.controller is None:
            return exit_codes.OK
        return exit_codes.of_run(self.controller.status)

    def action_interrupt(self) -> None:
        """Ctrl+C, SIGTERM: the app that started the run stops it (with a checkpoint) and leaves
        once it has; a watcher just leaves, the training goes on."""
        run_screen = self._run_screen()
        if self.owns_run and run_screen is not None and self.controller.alive and not self.controller.status.ended:
            run_screen.post_message(StopAndLeave())
        else:
            self.leave(detached=self.controller is not None and self.controller.alive)


def run_app(app: MnistApp, terminal=None) -> int:
    """Run the app on the real terminal (fd 2 already goes to a log) and return the exit status."""
    saved = sys.__stderr__
    if terminal is not None:
        sys.__stderr__ = terminal
    try:
        app.run()
    finally:
        sys.__stderr__ = saved
    if app.detached and app.controller is not None and terminal is not None:
        print(f"mnist-tui: {app.controller.name} goes on training in the background; "
              f"mnist-tui watch {app.controller.run_path} opens it", file=terminal)
    return app.return_code if app.return_code is not None else app.exit_status()
