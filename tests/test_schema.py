"""The event schema's version: logs written before it, and by today's code, open in every reader;
a log written in a newer schema is said in one line by each, never misread and never a crash.

tests/data holds real run folders (tests/data/write_stored_log.py wrote them): main-1fb1cb3/, by
main before the schema had a version, and schema-1/, by the code that wrote version 1."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
from helpers import one_line, wait_for
from textual.widgets import Log, Static

from mnist_tui.cli.main import main
from mnist_tui.run import events as ev
from mnist_tui.run.folder import EVENTS, EventTail, NewerSchema, check_event_log, newest_events, read_events
from mnist_tui.run.index import list_runs, summarise, validation_curve
from mnist_tui.run.status import RunStatus
from mnist_tui.sinks.course_log import CoursePrinter
from mnist_tui.tui.app import MnistApp
from mnist_tui.tui.controller import RunController
from mnist_tui.tui.history_reader import fold_log
from mnist_tui.tui.screens.run_screen import RunScreen
from mnist_tui.tui.screens.runs_screen import row_cells
from mnist_tui.tui.state import RunState

DATA = Path(__file__).parent / "data"
STORED = {"main-1fb1cb3": ev.UNVERSIONED, "schema-1": 1}  # folder: the schema its log is written in
# What the headless trainer prints for each stored log (the same run, so the same figures), besides
# its first line and the lines that name a file (a snapshot, a checkpoint).
COURSE_LINES = [
    "[layers] epoch: 0, batch: 0, flatten: 32 dead units",
    "epoch: 0, batch: 0, loss is: [3.455687], acc is [0.062500]",
    "epoch: 0, batch: 1, loss is: [3.290727], acc is [0.125000]",
    "epoch: 0, batch: 2, loss is: [3.729202], acc is [0.062500]",
    "epoch: 0, batch: 3, loss is: [2.260512], acc is [0.218750]",
    "[validation] epoch: 0, batch: 4, loss=2.749340, acc=0.234375",
    "[diagnosis] Fine: train 21.88% vs validation 23.44%, gap -1.56 points (noise ±14.80, over-fitting above 14.80).",
    "[test] epoch: 0, batch: 4, loss=2.709323, acc=0.265625",
    "test accuracy: 0.2656",
    "finished: done",
]
NEWER = ev.SCHEMA_VERSION + 1


def stored_run(tmp_path: Path, name: str) -> Path:
    """A copy of a stored run folder (readers may write next to it: a lock, an export)."""
    (source,) = (DATA / name).iterdir()
    return Path(shutil.copytree(source, tmp_path / "runs" / source.name))


def newer_run(tmp_path: Path, resumed: bool) -> Path:
    """The schema-1 run with its RunStarted in a newer schema; `resumed`: its older life kept, and
    a newer trainer's life (RunStarted, a batch) appended after it, as a newer --resume leaves it."""
    run = stored_run(tmp_path, "schema-1")
    log = run / EVENTS
    lines = log.read_text().splitlines(keepends=True)
    started = json.loads(lines[0])
    newer = json.dumps({**started, "schema": NEWER, "new_field": "meaning unknown here"}) + "\n"
    batch = json.dumps({"type": "BatchMetrics", "time": 2e9, "epoch": 9, "batch": 0, "step": 900, "loss": 0.1,
                        "acc": 0.99, "images_per_s": 1.0, "elapsed_s": 1.0, "metrics": {"acc": 0.99}}) + "\n"
    log.write_text("".join(lines + [newer, batch]) if resumed else "".join([newer, *lines[1:]]))
    return run


def says_newer(text: str) -> bool:
    return f"written by a newer mnist-tui (event schema {NEWER}; this one reads up to {ev.SCHEMA_VERSION})" in text


# ---- the stored logs open in every reader ----

@pytest.mark.parametrize("name", STORED)
def test_a_stored_log_reads_as_the_schema_it_was_written_in(tmp_path, name):
    run = stored_run(tmp_path, name)
    check_event_log(run)
    events = [ev.from_json(r) for r in read_events(run / EVENTS)]
    assert None not in events
    (started,) = [e for e in events if isinstance(e, ev.RunStarted)]
    assert started.schema == STORED[name]
    assert {type(e).__name__ for e in events} >= {"RunStarted", "StatusChanged", "BatchMetrics", "LayerStats",
                                                  "SnapshotTaken", "EvalResult", "Mistakes", "CheckpointSaved",
                                                  "Finished"}
    (snapshot,) = [e for e in events if isinstance(e, ev.SnapshotTaken)]
    assert {p["kind"] for p in snapshot.panels} >= {"kernel", "feature_map", "output"}


@pytest.mark.parametrize("name", STORED)
def test_the_runs_index_summarises_a_stored_log(tmp_path, name):
    run = summarise(stored_run(tmp_path, name))
    assert (run.status, run.damaged, run.newer, run.status_word) == (RunStatus.FINISHED, None, False, "finished")
    assert (run.epochs_done, run.epochs_total, run.batches_per_epoch) == (1, 1, 4)
    assert (run.best_val_acc, run.test_acc) == (0.234375, 0.265625)
    assert (run.optimizer, run.lr) == ("adam", 0.003)


@pytest.mark.parametrize("name", STORED)
def test_a_stored_log_gives_the_course_log_its_trainer_printed(tmp_path, name):
    run = stored_run(tmp_path, name)
    out = io.StringIO()
    printer = CoursePrinter(False, out)
    for record in read_events(run / EVENTS):
        printer(ev.from_json(record))
    first, *rest = out.getvalue().splitlines()
    assert first.startswith("run /tmp/") and first.endswith("on CPU (auto: no CUDA GPU visible): 128 train, "
                                                            "64 validation images")
    files = [line for line in rest if line.startswith(("snapshot at ", "checkpoint at "))]
    assert [line for line in rest if line not in files] == COURSE_LINES
    assert [line.split(": ")[0] for line in files] == ["snapshot at epoch 1, batch 1", "checkpoint at epoch 1, batch 4"]


@pytest.mark.parametrize("name", STORED)
def test_a_stored_log_exports_to_tensorboard(tmp_path, name, capsys):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = stored_run(tmp_path, name)
    assert main(["export", str(run), "--tensorboard", str(tmp_path / "tb")]) == 0
    assert "Traceback" not in capsys.readouterr().err
    acc = EventAccumulator(str(tmp_path / "tb"), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    assert [s.step for s in acc.Scalars("train/loss")] == [0, 1, 2, 3]
    assert [round(s.value, 6) for s in acc.Scalars("eval/acc")] == [0.234375]
    assert [round(s.value, 6) for s in acc.Scalars("test/acc")] == [0.265625]
    assert "snapshot/conv1/kernel" in acc.Tags()["images"]


@pytest.mark.parametrize("name", STORED)
def test_the_history_reader_folds_a_stored_log(tmp_path, name):
    read = fold_log(stored_run(tmp_path, name) / EVENTS)
    assert read.finished is not None and read.finished.status == "done"
    assert read.finished.test_acc == 0.265625
    assert read.state.steps_done == 4 and read.state.loss_history.count == 4
    assert [e.acc for e in read.state.evals] == [0.234375] and read.state.test.acc == 0.265625
    assert len(read.state.snapshots) == 1 and read.state.mistakes is not None
    assert read.position[2] is None, "nothing newer stopped the read"


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.mark.anyio
@pytest.mark.parametrize("name", STORED)
async def test_the_app_opens_a_stored_log_finished_with_its_test_accuracy(tmp_path, name):
    run = stored_run(tmp_path, name)
    app = MnistApp(run.parent, RunController(run))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = next(s for s in app.screen_stack if isinstance(s, RunScreen))
        await wait_for(pilot, lambda: screen.status is RunStatus.FINISHED, "the finished status")
        header, log = screen.query_one("#header", Static), screen.query_one("#log", Log)
        await wait_for(pilot, lambda: "finished" in str(header.render()), "the header's finished status")
        await wait_for(pilot, lambda: "test accuracy: 0.2656" in log.lines, "the test accuracy")
        assert screen.state.steps_done == 4 and screen.state.started.schema == STORED[name]
        await pilot.press("q")
        await wait_for(pilot, lambda: app.return_code is not None, "left")
    assert app.return_code == 0


def test_todays_trainer_writes_the_schema_version_it_reads():
    assert ev.RunStarted("r", "cpu", {}, 1, 1, 1, 1, []).to_json()["schema"] == ev.SCHEMA_VERSION
    assert ev.from_json({"type": "RunStarted", "run_dir": "r", "device": "cpu", "config": {}, "epochs": 1,
                         "batches_per_epoch": 1, "train_size": 1, "val_size": 1, "layers": []}).schema == 0


# ---- a log in a newer schema: one line from each reader ----

@pytest.mark.parametrize("resumed", [False, True], ids=["newer", "resumed-by-newer"])
def test_watch_export_and_resume_refuse_a_newer_log_in_one_line(tmp_path, capsys, resumed):
    run = newer_run(tmp_path, resumed)
    before = (run / EVENTS).read_bytes()
    with pytest.raises(NewerSchema):
        check_event_log(run)
    assert says_newer(one_line(capsys, main(["watch", str(run)])))
    assert says_newer(one_line(capsys, main(["export", str(run), "--tensorboard", str(tmp_path / "tb")])))
    assert not (tmp_path / "tb").exists()
    assert says_newer(one_line(capsys, main(["--headless", "--resume", str(run)])))
    assert (run / EVENTS).read_bytes() == before, "an older trainer never writes into a newer log"


def test_the_runs_table_marks_a_newer_log_and_says_why(tmp_path):
    newer_run(tmp_path, resumed=True)
    stored_run(tmp_path, "main-1fb1cb3")
    runs = {r.name: r for r in list_runs(tmp_path / "runs")}
    newer, older = runs.pop("20261201-110440"), runs.pop("20261201-110008")
    assert newer.newer and says_newer(newer.damaged) and row_cells(newer, False)[2] == "newer"
    assert newer.optimizer == "adam", "its settings still show"
    assert older.damaged is None and row_cells(older, False)[2] == "finished"
    assert validation_curve(newer.path) == [], "the compare view draws nothing it would misread"
    assert [acc for _step, acc, _loss in validation_curve(older.path)] == [0.234375]


def test_the_viewers_tail_stops_at_a_newer_life_and_says_so_once(tmp_path):
    run = newer_run(tmp_path, resumed=True)
    tail = EventTail(run / EVENTS)
    state = RunState()
    events, _ = tail.read()
    state.apply(events)
    assert says_newer(tail.newer) and isinstance(events[-1], ev.Alert) and says_newer(events[-1].message)
    assert state.steps_done == 4, "the older life is read, the newer one's batch is not"
    assert sum(says_newer(line) for line in state.log_lines) == 1
    with (run / EVENTS).open("a") as log:  # the newer trainer goes on writing
        log.write(json.dumps({"type": "Finished", "time": 2e9, "status": "done", "test_acc": 0.99}) + "\n")
    assert tail.read() == ([], False)
    assert tail.fraction_read == 1.0
    assert says_newer(newest_events(run / EVENTS)[-1].message)


def test_the_history_reader_stops_at_a_newer_life_and_the_tail_after_it_too(tmp_path):
    run = newer_run(tmp_path, resumed=True)
    read = fold_log(run / EVENTS)
    assert read.state.steps_done == 4 and read.finished is not None, "the older life as it ended"
    assert sum(says_newer(line) for line in read.state.log_lines) == 1
    assert says_newer(read.position[2])
    follower = EventTail(run / EVENTS)
    follower.go_on_from(read.position)
    assert follower.read() == ([], False), "the viewer's tail reads nothing of the newer life either"


@pytest.mark.anyio
async def test_the_app_says_a_newer_life_in_one_line_and_reads_no_further(tmp_path):
    run = newer_run(tmp_path, resumed=True)
    app = MnistApp(run.parent, RunController(run))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = next(s for s in app.screen_stack if isinstance(s, RunScreen))
        log = screen.query_one("#log", Log)
        await wait_for(pilot, lambda: any(says_newer(line) for line in log.raw_lines), "the line in the log")
        await wait_for(pilot, lambda: any(says_newer(n.message) for n in app._notifications), "the notice")
        assert screen.state.steps_done == 4
