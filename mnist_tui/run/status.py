"""A run's status, as a viewer sees it: what the event log says plus whether its trainer lives.

The one place that decides it, for the live view (tui/controller.py) and the runs table alike.
"""

from __future__ import annotations

from enum import Enum


class RunStatus(str, Enum):
    STARTING = "starting"  # folder made, no batch yet
    TRAINING = "training"
    PAUSED = "paused"
    FINISHED = "finished"
    STOPPED = "stopped"
    DIVERGED = "diverged"
    ERROR = "error"
    CRASHED = "crashed"  # the trainer is gone without a Finished event

    @property
    def ended(self) -> bool:
        return self in ENDED


ENDED = frozenset({RunStatus.FINISHED, RunStatus.STOPPED, RunStatus.DIVERGED, RunStatus.ERROR, RunStatus.CRASHED})
_FINISHED = {"done": RunStatus.FINISHED, "stopped": RunStatus.STOPPED, "diverged": RunStatus.DIVERGED,
             "error": RunStatus.ERROR}


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
