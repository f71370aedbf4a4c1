"""A run's status: the one vocabulary of the engine (which says it in the event log) and the
viewers (which add whether its trainer lives).

`status_of` is the one place that decides a viewer's status, for the live view
(tui/controller.py) and the runs table alike.
"""

from __future__ import annotations

from enum import Enum


class RunStatus(str, Enum):
    STARTING = "starting"  # folder made, no batch yet
    TRAINING = "training"
    PAUSED = "paused"
    # The engine's passing states, which a viewer counts as TRAINING.
    VALIDATING = "validating"
    TESTING = "testing"
    RESUMED = "resumed"  # a resumed run goes on (from a checkpoint, or again from its settings)
    FINISHED = "finished"
    STOPPED = "stopped"
    DIVERGED = "diverged"
    ERROR = "error"
    CRASHED = "crashed"  # the trainer is gone without a Finished event (or its ranks never started)

    @property
    def ended(self) -> bool:
        return self in ENDED

    @property
    def logged(self) -> str:
        """Its word in the event log (StatusChanged, Finished): the engine's since the first logs."""
        return _LOGGED.get(self, self.value)


ENDED = frozenset({RunStatus.FINISHED, RunStatus.STOPPED, RunStatus.DIVERGED, RunStatus.ERROR, RunStatus.CRASHED})
_LOGGED = {RunStatus.TRAINING: "running", RunStatus.FINISHED: "done"}
_FINISHED = {status.logged: status for status in (RunStatus.FINISHED, RunStatus.STOPPED, RunStatus.DIVERGED,
                                                  RunStatus.ERROR)}


def status_of(engine_status: str | None, finished_status: str | None, alive: bool) -> RunStatus:
    """`engine_status`: the newest StatusChanged's status; `finished_status`: the Finished event's."""
    if finished_status is not None:
        return _FINISHED.get(finished_status, RunStatus.ERROR)
    if not alive:
        return RunStatus.CRASHED
    if engine_status == "paused":
        return RunStatus.PAUSED
    if engine_status in (None, "starting"):
        return RunStatus.STARTING
    return RunStatus.TRAINING
