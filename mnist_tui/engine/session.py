"""One run, wired up: run folder, its live side (run/live.py: event bus, event log, and for the
headless trainer the lock and the control channel), and a trainer built on demand.

Building a Session imports neither Paddle nor the data, so a command that is refused leaves
nothing behind and the app draws its first frame at once; `make_trainer` does the slow part, in
whichever process trains (headless, or the app's background trainer).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from mnist_tui.engine.data import Mnist, load_mnist
from mnist_tui.run import checkpoints, strict_json
from mnist_tui.run.config import TrainConfig, validate
from mnist_tui.run.events import Alert, ErrorRaised, EventBus, StatusChanged
from mnist_tui.run.folder import (
    CONFIG,
    NewerSchema,
    RunDir,
    RunDirError,
    atomic_write_text,
    line_numbers,
    newer_schema_in,
    no_event_in,
    open_for_writing,
    parse_event_line,
    read_regular,
    refuse_symlinks,
)
from mnist_tui.run.live import LiveRun
from mnist_tui.run.status import RunStatus


@dataclass
class Session:
    cfg: TrainConfig
    run: RunDir
    data_dir: str | None = None
    resume_meta: dict | None = None
    data: Mnist | None = None  # loaded on demand by make_trainer when not given

    restarted: bool = False  # resumed with no checkpoint: trains again from its saved settings
    tensorboard: str | None = None  # also write TensorBoard event files here as training goes

    def __post_init__(self) -> None:
        self.live = LiveRun(self.run)  # its log is opened by the process that trains
        self.trainer = None
        self.notes: list[str] = []  # what a resume left out or passed over (also in the log, as warnings)

    @property
    def bus(self) -> EventBus:
        return self.live.bus

    def _log_errors(self, event) -> None:
        if isinstance(event, ErrorRaised):
            # A full disk: the event log and the terminal say it.
            with contextlib.suppress(OSError, RunDirError), os.fdopen(open_for_writing(self.run.log_path), "a") as log:
                log.write(f"mnist-tui: {event.message}\n{event.traceback}\n")

    @classmethod
    def new(cls, cfg: TrainConfig, runs_dir: str | Path, data_dir: str | None = None,
            data: Mnist | None = None, name: str | None = None, tensorboard: str | None = None) -> Session:
        session = cls(cfg, RunDir.create(runs_dir, name), data_dir, data=data, tensorboard=tensorboard)
        # Settings first, before Paddle or the data: a run killed at any moment can be started again.
        session.run.write_json(CONFIG, {"config": cfg.to_dict(), "data_dir": data_dir, "tensorboard": tensorboard,
                                        "created": round(time.time(), 3)})  # the run's wall time counts from here
        return session

    @classmethod
    def open(cls, run_path: str | Path, data: Mnist | None = None) -> Session:
        """A run folder made by `new`, to be trained by another process (the app's background trainer)."""
        run = RunDir(Path(run_path))
        saved = run.read_config()
        return cls(saved_config(run, saved), run, saved.get("data_dir"), data=data, tensorboard=saved.get("tensorboard"))

    @classmethod
    def resume(cls, run_path: str | Path, data: Mnist | None = None, rewrite: bool = True) -> Session:
        """Reopen a run at its newest intact checkpoint; events after that checkpoint are dropped so
        that the re-run batches are logged once, without gaps, and every intact line before it is
        kept (a damaged one is left out and named in a warning). With no checkpoint (killed before
        the first), the run starts again from its saved settings. `rewrite=False`: every check and
        refusal, but the log is left as it is (the app's launcher: its background trainer, which
        resumes the run again, rewrites it, and a second rewrite would find nothing to warn about)."""
        run = RunDir(Path(run_path))
        if not run.path.is_dir():
            raise RunDirError(f"{run.path}: no such run folder")
        refuse_symlinks(run.path)
        saved = run.read_config()
        if saved.get("source"):
            raise RunDirError(f"{run.path}: trained by your own code ({saved['source']}); resume it there")
        cfg = saved_config(run, saved)
        log = read_regular(run.events_path)
        if (why := no_event_in(log)) is not None:
            raise RunDirError(f"{run.events_path}: {why}; move it away to start the run again from its settings")
        if (why := newer_schema_in(log)) is not None:  # going on would write this code's events into it
            raise NewerSchema(f"{run.events_path}: {why}")
        lines = [line + b"\n" for line in log.split(b"\n")]
        lines[-1] = lines[-1][:-1]  # after the last newline: b"", or a line torn by a kill
        lines = lines if lines[-1] else lines[:-1]
        meta, keep, notes = plan_resume(lines, checkpoints.complete(run))
        if meta is None and any(b'"type": "Finished"' in line for line in lines):
            raise RunDirError(f"{run.path}: the run has ended and has no checkpoint to go on from")
        if meta is None and notes:  # starting again would wipe its history: the user decides
            raise RunDirError(f"{run.path}: no intact checkpoint to go on from ({notes[0]}); to start it again "
                              f"from its settings, move {run.checkpoints} away")
        run.check_writable()
        if rewrite:  # the warnings go in the log itself, where every viewer shows them
            said = [strict_json.dumps(Alert("warning", note).to_json()).encode() for note in notes]
            atomic_write_text(run.events_path, b"".join(line.rstrip(b"\n") + b"\n" for line in keep + said)
                              .decode("utf-8", "replace"))
        session = cls(cfg, run, saved.get("data_dir"), meta, data=data, restarted=meta is None,
                      tensorboard=saved.get("tensorboard"))
        session.notes = notes
        return session

    def change_settings(self, **changes) -> None:
        """Settings a run may go on with differently (e.g. the number of processes), kept in config.json."""
        self.cfg = validate(self.cfg.with_(**changes))
        saved = self.run.read_config()
        saved["config"] = self.cfg.to_dict()
        self.run.write_json(CONFIG, saved)

    def make_trainer(self, pause_on_divergence=False, start_paused: bool = False):
        """Load the data and build the trainer (imports Paddle: call it off the UI thread)."""
        from mnist_tui.engine import checkpoint
        from mnist_tui.engine.loop import Trainer

        self.run.check_writable()  # a read-only checkpoints/ is found now, not at the first checkpoint
        data = self.data or load_mnist(self.data_dir)
        validate(self.cfg, train_size=len(data.train.head(self.cfg.train_limit)))
        if self.resume_meta:
            self.resume_meta = checkpoint.load(self.resume_meta)
        self.trainer = Trainer(self.cfg, data, self.run, self.bus, pause_on_divergence, start_paused)
        self.write_config(data.source)
        self.live.open_log()
        self.bus.subscribe(self._log_errors)
        if self.resume_meta:
            self.bus.emit(StatusChanged(RunStatus.RESUMED.logged, f"from checkpoint at step {self.resume_meta['step']}"))
        elif self.restarted:
            self.bus.emit(StatusChanged(RunStatus.RESUMED.logged, "no checkpoint to resume from: started again from its saved settings"))
        return self.trainer

    def run_trainer(self) -> RunStatus:
        status = self.trainer.run(self.resume_meta)
        with contextlib.suppress(OSError):  # a full disk: the trainer has ended the run as an error already
            self.live.log.flush()
        return status

    def write_config(self, data_source: str) -> None:
        import paddle

        from mnist_tui.version import __version__

        self.run.write_json(CONFIG, {
            "created": self.run.read_config().get("created"),
            "config": self.cfg.to_dict(),
            "data_dir": self.data_dir,
            "tensorboard": self.tensorboard,
            "data_source": data_source,
            "versions": {"mnist_tui": __version__, "paddle": paddle.__version__,
                         "python": sys.version.split()[0]},
            "device_requested": self.cfg.device,
            "run_dir": str(self.run.path),
            "pid": os.getpid(),
        })

    def close(self) -> None:
        self.live.close()


def saved_config(run: RunDir, saved: dict) -> TrainConfig:
    try:
        return validate(TrainConfig.from_dict(saved["config"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise RunDirError(f"{run.path / CONFIG}: not a usable run configuration ({exc})") from None


def plan_resume(lines: list[bytes], saved: list[dict]) -> tuple[dict | None, list[bytes], list[str]]:
    """Where a resume goes on from: (the checkpoint, the log lines to keep, warnings for the log).

    A checkpoint counts when its files match their checksums and its CheckpointSaved record is
    intact in the log; the lines up to that record are kept, but for damaged ones. The newest
    checkpoint may lack a record when the trainer died between the two writes: it counts when no
    batch after it was logged (all the log is then kept). No checkpoint: the log is emptied."""
    records = [(i, parse_event_line(line)) for i, line in enumerate(lines)]
    damaged = [i for i, record in records if record is None]
    saved_at = {record.get("step"): i for i, record in records if record and record["type"] == "CheckpointSaved"}
    last_step = max((record.get("step") for _, record in records if record and record["type"] == "BatchMetrics"
                     and isinstance(record.get("step"), int)), default=-1)
    notes: list[str] = []
    meta, cut = None, 0
    for candidate in saved:
        name = Path(candidate["stem"]).name
        why = checkpoints.damage(candidate)
        if why is None and candidate["step"] in saved_at:
            meta, cut = candidate, saved_at[candidate["step"]] + 1
        elif why is None and candidate is saved[0] and last_step < candidate["step"]:
            meta, cut = candidate, len(lines)  # saved, then killed before its record was written
        if meta is not None:
            break
        notes.append(f"checkpoint {name} not used: {why or 'its record in events.jsonl is missing or damaged'}")
    if meta is not None and notes:
        notes.append(f"going on from the intact checkpoint {Path(meta['stem']).name} (step {meta['step']})")
    left_out = [i + 1 for i in damaged if i < cut and not (i == len(lines) - 1 and not lines[i].endswith(b"\n"))]
    if left_out:
        notes.append(f"events.jsonl: {line_numbers(left_out)} damaged (not an event): left out, "
                     "every intact line kept")
    return meta, [line for i, line in enumerate(lines[:cut]) if i not in set(damaged)], notes
