"""The run view's one-line header: what the run is doing now, and how far and fast it has got.

Every field is true at the moment it is drawn: the status says validating or testing (with the
images done) while an evaluation runs, a paused run shows no rate, an ended run its wall time and
mean rate. When the line does not fit, fields are abbreviated and then dropped in a fixed order,
least useful first; a value is never cut.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.content import Content

from mnist_tui.run.status import RunStatus
from mnist_tui.tui.state import RunState

STATUS_COLOURS = {RunStatus.TRAINING: "green", RunStatus.PAUSED: "yellow", RunStatus.FINISHED: "cyan",
                  RunStatus.ERROR: "red", RunStatus.DIVERGED: "red", RunStatus.CRASHED: "red"}
EVALUATING = {RunStatus.VALIDATING.logged: "val", RunStatus.TESTING.logged: "test"}  # the engine's status → its EvalProgress split
WIDE_SEPARATOR, NARROW_SEPARATOR = " │ ", "│"
# What gives way first when the line is too long: (field, its shorter form or None to drop it).
REDUCTIONS = (("device", "short"), ("separator", "short"), ("elapsed", "short"), ("device", None),
              ("status", "short"), ("rate", "short"), ("eta", "short"), ("batch", "short"), ("epoch", "short"),
              ("elapsed", None), ("name", None), ("rate", None), ("batch", None), ("eta", None))


def clock(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = int(seconds)
    h, rest = divmod(seconds, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60:d}:{rest % 60:02d}"


@dataclass
class Field:
    name: str
    full: Content
    short: Content | None = None  # a shorter form that says the same


def status_text(state: RunState, engine_status: str | None, status: RunStatus, stopping: bool) -> tuple[str, str, str]:
    """The status word with its progress, in full and short, and its colour."""
    if stopping:
        return "stopping", "stopping", "yellow"
    word, colour = status.value, STATUS_COLOURS.get(status, "")
    if status is RunStatus.TRAINING and engine_status in EVALUATING:
        word, colour = engine_status, "magenta"
        progress = state.eval_progress
        if progress is not None and progress.split == EVALUATING[engine_status] and progress.total:
            return (f"{word} {progress.done:,}/{progress.total:,}", f"{word} {100 * progress.done // progress.total}%",
                    colour)
    return word, word, colour


def short_device(device: str) -> str:
    """"CPU ×2 ranks (auto: …)" → "CPU ×2 ranks"; "gpu:0 (NVIDIA A100)" → "NVIDIA A100"."""
    if "(" not in device:
        return device
    if device.startswith("CPU"):
        return device[: device.index("(")].strip()
    return device[device.index("(") + 1 :].rstrip(")")[:24]


def header_fields(state: RunState, controller, status: RunStatus, stopping: bool,
                  reading: float | None = None) -> list[Field]:
    """`reading`: the fraction of a long history read so far; `state` then holds only the log's
    last lines, so nothing is shown that needs the whole of it (rates, times, ETA)."""
    full, short, colour = status_text(state, controller.engine_status, status, stopping)
    device = state.started.device if state.started else "…"
    fields = [Field("name", Content.styled(controller.name, "bold")),
              Field("device", Content(device), Content(short_device(device))),
              Field("status", Content.styled(full, colour), Content.styled(short, colour))]
    if not state.started:
        if reading is not None:
            fields.append(reading_field(reading))
        elif not status.ended:
            fields.append(Field("loading", Content("loading data and Paddle…"), Content("loading…")))
        return fields
    epoch, batch = state.position()
    epoch = min(epoch, state.epochs)
    fields += [Field("epoch", Content(f"epoch {epoch}/{state.epochs}"), Content(f"e{epoch}/{state.epochs}")),
               Field("batch", Content(f"batch {batch}/{state.bpe}"), Content(f"b{batch}/{state.bpe}"))]
    if reading is not None:
        return [*fields, reading_field(reading)]
    if status.ended:
        mean = state.pace.mean_rate()
        if mean is not None:
            fields.append(Field("rate", Content(f"mean {mean:,.0f} img/s"), Content(f"{mean:,.0f} img/s")))
        wall = controller.wall_s
        if wall is not None:
            fields.append(Field("elapsed", Content(f"wall {clock(wall)}"), Content(clock(wall))))
        return fields
    evaluating = status is RunStatus.TRAINING and controller.engine_status in EVALUATING
    rate = state.rate()
    if status is RunStatus.TRAINING and not evaluating and rate is not None:
        fields.append(Field("rate", Content(f"{rate:,.0f} img/s"), Content(f"{rate:,.0f}/s")))
    elapsed = state.elapsed_s  # the trainer's clock at its newest batch or evaluation report
    fields.append(Field("elapsed", Content(f"elapsed {clock(elapsed)}"), Content(clock(elapsed))))
    if status is not RunStatus.PAUSED:
        eta, complete = state.eta()
        if eta is not None:
            # Before an evaluation has been timed, only the training part is known: "more than".
            text = clock(eta) if complete else f">{clock(eta)}"
            fields.append(Field("eta", Content(f"ETA {text}"), Content(text)))
    return fields


def reading_field(fraction: float) -> Field:
    percent = int(100 * fraction)
    return Field("reading", Content(f"reading history {percent} %"), Content(f"reading {percent}%"))


def fit_header(fields: list[Field], width: int) -> Content:
    """The fields joined, reduced by REDUCTIONS until the line is at most `width` cells."""
    by_name = {f.name: f for f in fields}
    shown = {f.name: f.full for f in fields}
    separator = WIDE_SEPARATOR

    def line() -> Content:
        return Content(separator).join(shown[f.name] for f in fields if f.name in shown)

    for name, form in REDUCTIONS:
        if line().cell_length <= width:
            break
        if name == "separator":
            separator = NARROW_SEPARATOR
        elif name in shown:
            if form is None:
                del shown[name]
            elif by_name[name].short is not None:
                shown[name] = by_name[name].short
    return line()
