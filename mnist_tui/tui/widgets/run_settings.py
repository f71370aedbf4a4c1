"""The run's settings as the run view shows them: one line of what decides a result (optimiser,
learning rate and schedule, batch, L2, data), or every setting when expanded (`i`)."""

from __future__ import annotations

from mnist_tui.run.events import RunStarted

EXPAND_HINT = "i: all"


def _number(value) -> str:
    return f"{value:g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def _count(n: int) -> str:
    """50000 → "50k", 6400 → "6.4k" (only when exact, so nothing is rounded), else 6,432."""
    return f"{n / 1000:g}k" if n >= 1000 and n % 100 == 0 else f"{n:,}"


def settings_line(started: RunStarted) -> str:
    """One line; a run from someone else's loop shows the settings it gave, whatever they are."""
    c = started.config
    parts = []
    if c.get("optimizer"):  # a Monitor's loop may give no momentum, or no optimiser at all (None)
        momentum = c["optimizer"] == "momentum" and "momentum" in c
        optimizer = str(c["optimizer"]) + (f" {_number(c['momentum'])}" if momentum else "")
        lr = f" lr {_number(c['lr'])} {c.get('schedule', '')}" if c.get("lr") is not None else ""
        parts.append((optimizer + lr).strip())
    if "batch_size" in c:
        parts.append(f"batch {c['batch_size']}")
    if "weight_decay" in c or c.get("l2"):
        l2 = f"L2 {_number(c.get('weight_decay', 0))}"
        if c.get("l2"):
            l2 += " + " + ",".join(f"{k}={_number(v)}" for k, v in c["l2"].items())
        parts.append(l2)
    sizes = [(name, size) for name, size in (("train", started.train_size), ("val", started.val_size),
                                             ("test", started.test_size)) if size]
    if sizes:
        parts.append("/".join(n for n, _ in sizes) + " " + "/".join(_count(size) for _, size in sizes))
    if not parts:  # nothing we know by name: the first few settings as given
        parts = [f"{k} {_number(v)}" for k, v in list(c.items())[:4]]
    return " · ".join(parts)


def all_settings(started: RunStarted) -> str:
    """Every setting as `name=value`, in the order the run recorded them (a wrapped line breaks
    between settings, never inside one)."""
    def shown(value) -> str:
        if value == "" or value == {}:
            return "-"
        if isinstance(value, dict):
            return ",".join(f"{k}={_number(v)}" for k, v in value.items())
        return _number(value).replace(" ", "\u00a0")
    return " ".join(f"{k}={shown(v)}" for k, v in started.config.items())
