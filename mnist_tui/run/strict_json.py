"""JSON that every reader takes: a NaN or an infinity is written as `null` with the reason next to it.

`{"loss": nan}` is written `{"loss": null, "loss_nonfinite": "nan"}`; inside a list the reason
names the position: `{"softmax": [0.5, null], "softmax_nonfinite": [[1, "nan"]]}` (for a list of
lists `[row, column, reason]`). `loads` puts the NaN or infinity back, so a viewer shows what the
training saw; logs written before (with bare `NaN` literals, which Python's reader accepts) load
as they are.
"""

from __future__ import annotations

import json
import math
import numbers

SUFFIX = "_nonfinite"


def dumps(data, **options) -> str:
    """`json.dumps` of `data` with non-finite floats replaced as the module says (a dict's keys only:
    the reason needs a key to sit next to)."""
    try:
        return json.dumps(data, allow_nan=False, **options)
    except ValueError as exc:  # the rare line with a NaN pays for the walk, the others do not
        if "Out of range float" not in str(exc):
            raise
    return json.dumps(_marked(_plain(data, options.get("default"))), allow_nan=False, **options)


def loads(text: str | bytes):
    """`json.loads`, with the values `dumps` replaced by null put back as NaN or infinity
    (ValueError for a marker that does not say where or what, as for any other bad JSON)."""
    data = json.loads(text)
    marker = SUFFIX.encode() if isinstance(text, bytes) else SUFFIX
    if marker not in text:
        return data
    try:
        return _restored(data)
    except (TypeError, LookupError, ValueError) as exc:
        raise ValueError(f"a malformed {SUFFIX} marker ({exc})") from None


def _nonfinite(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral) and not math.isfinite(value)


def _reason(value) -> str:
    return "nan" if math.isnan(value) else "inf" if value > 0 else "-inf"


def _plain(value, default):
    """`value` with the objects json would hand to `default` converted already (numpy scalars)."""
    if isinstance(value, dict):
        return {k: _plain(v, default) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, default) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)) or default is None:
        return value
    return default(value)


def _marked(value):
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            marks: list[list] = []
            out[key] = _cleaned(item, [], marks)
            if marks:
                out[f"{key}{SUFFIX}"] = marks[0][0] if len(marks[0]) == 1 else marks  # a scalar: its reason
        return out
    return _cleaned(value, [], [])


def _cleaned(value, path: list, marks: list):
    """`value` with non-finite floats as None, each one's [*path, reason] added to `marks`."""
    if isinstance(value, dict):
        return _marked(value)
    if isinstance(value, list):
        return [_cleaned(v, [*path, i], marks) for i, v in enumerate(value)]
    if _nonfinite(value):
        marks.append([*path, _reason(value)])
        return None
    return value


def _restored(value):
    if isinstance(value, list):
        return [_restored(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {k: _restored(v) for k, v in value.items() if not (k.endswith(SUFFIX) and k[: -len(SUFFIX)] in value)}
    for key, reason in value.items():
        base = key[: -len(SUFFIX)]
        if not key.endswith(SUFFIX) or base not in value:
            continue
        if isinstance(reason, str):
            out[base] = float(reason)
            continue
        for *path, why in reason:
            target = out[base]
            for i in path[:-1]:
                target = target[i]
            target[path[-1]] = float(why)
    return out
