"""What the network gets wrong: the confusion matrix, the most confused pairs, and the worst-classified
digits drawn as pictures (two pixel rows per cell with '▀', as in the snapshot heat maps)."""

from __future__ import annotations

from rich.color import Color
from rich.style import Style
from rich.text import Text

CELL = 5  # four digits and a gap
LABEL = 6  # "true 0"
SIDE = 28  # MNIST pictures are 28x28
GAP = 2  # between pictures in the gallery
BOLD_PAIRS = 3  # the largest off-diagonal counts are bold, so they stand out without colour
NO_MISTAKES = "No mistakes in the validation split."


def confused_pairs(confusion, top: int = 8) -> list[tuple[int, int, int]]:
    """(true, predicted, count) of the largest off-diagonal counts, largest first, ties in (true, pred) order."""
    cells = [(t, p, n) for t, row in enumerate(confusion) for p, n in enumerate(row) if t != p and n > 0]
    return sorted(cells, key=lambda c: (-c[2], c[0], c[1]))[:top]


def confusion_table(confusion) -> Text:
    """Counts with the diagonal green by the row's share right, other non-zero cells red by count."""
    worst = max((n for t, row in enumerate(confusion) for p, n in enumerate(row) if t != p), default=0)
    bold = {(t, p) for t, p, _ in confused_pairs(confusion, BOLD_PAIRS)}
    table = Text("pred".ljust(LABEL) + "".join(f"{p:>{CELL}}" for p in range(len(confusion))), style="bold")
    for t, row in enumerate(confusion):
        table.append("\n")
        table.append(f"true {t}".ljust(LABEL), style="bold")
        total = sum(row) or 1
        for p, n in enumerate(row):
            if t == p:
                style = f"bold white on rgb(0,{int(40 + 110 * n / total)},0)"
            elif n:
                share = n / worst
                style = f"white on rgb({int(90 + 140 * share)},{int(20 + 70 * share)},0)"
                style += " bold" if (t, p) in bold else ""
            else:
                style = "dim"
            table.append(f"{n:>{CELL}}", style=style)
    return table


def pairs_text(confusion, top: int = 8) -> Text:
    """The most confused pairs, each with its share of the true digit's images."""
    text = Text("Most confused", style="bold")  # 18 columns: fits beside the matrix at 80
    pairs = confused_pairs(confusion, top)
    if not pairs:
        text.append("\nnone")
    else:
        text.append("\ntrue→pred  n  %", style="dim")
    for t, p, n in pairs:
        text.append(f"\n{t} → {p} {n:>4} {100 * n / sum(confusion[t]):4.1f}")
    return text


def _grey(v: int) -> Color:
    return Color.from_rgb(v, v, v)


def _picture_lines(image_hex: str) -> list[Text]:
    pixels = bytes.fromhex(image_hex).ljust(SIDE * SIDE, b"\0")
    lines = []
    for r in range(0, SIDE, 2):
        line = Text()
        for c in range(SIDE):
            top, bottom = pixels[r * SIDE + c], pixels[(r + 1) * SIDE + c]
            line.append("▀", style=Style(color=_grey(top), bgcolor=_grey(bottom)))
        lines.append(line)
    return lines


def digit_picture(image_hex: str) -> Text:
    """A 28x28 digit (784 bytes as hex) as 14 lines of 28 cells: upper pixel fore, lower pixel back."""
    return Text("\n").join(_picture_lines(image_hex))


def caption(mistake: dict) -> str:
    return (f"#{mistake['index']} true {mistake['label']} → {mistake['pred']} "
            f"({100 * mistake['confidence']:.0f}%)")[:SIDE]


def digit_gallery(worst: list[dict], width: int) -> Text:
    """As many pictures side by side as fit in `width`, each captioned, wrapping onto more rows."""
    if not worst:
        return Text(NO_MISTAKES[:width])
    per_row = max(1, (width + GAP) // (SIDE + GAP))
    lines: list[Text] = []
    for start in range(0, len(worst), per_row):
        group = worst[start:start + per_row]
        if lines:
            lines.append(Text())
        pictures = [_picture_lines(m["image"]) for m in group]
        for row in range(SIDE // 2):
            lines.append(Text(" " * GAP).join(p[row] for p in pictures))
        lines.append(Text(" " * GAP).join(Text(caption(m).ljust(SIDE), style="dim") for m in group))
    for line in lines:
        line.rstrip()
        line.truncate(width)
    return Text("\n").join(lines)
