"""Small, dependency-free SVG charts for ``report.html``: lines, scatter, bars and a heatmap.

Each chart is one ``<svg class="plot">`` string that renders offline in any browser. Data marks
carry ``class="mark"`` (the report test counts them in a real browser); axes get 1-2-5 ticks. A
line chart given a y range draws what lies beyond it on the edge, as a triangle (``class=
"clipped"``) whose tooltip holds the value.
"""
from __future__ import annotations

import math
from html import escape
from typing import Sequence

PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
           "#ff9da7", "#9c755f", "#bab0ac")
WIDTH, HEIGHT = 460, 300
LEFT, RIGHT, TOP, BOTTOM = 58, 16, 30, 44
LEGEND_WIDTH = 170  # beside the plot area, for legend="outside"


def ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About ``count`` round values (1, 2 or 5 times a power of ten apart) covering the range."""
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        return [low]
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(low / step - 1e-9) * step
    return [round(first + i * step, 12) for i in range(int((high - first) / step + 1e-9) + 1)]


def _label(value: float) -> str:
    return f"{value:.4g}" if abs(value) < 1e5 else f"{value:.2g}"


def _short(text: object, most: int) -> str:
    """``text`` escaped, cut to ``most`` characters with an ellipsis (cut before escaping, so
    an entity such as ``&amp;`` is never cut in two)."""
    text = str(text)
    return escape(text if len(text) <= most else text[:most - 1] + "\u2026")


class _Frame:
    """Scales and axes of one chart."""

    def __init__(self, x_range: tuple[float, float], y_range: tuple[float, float]):
        self.x0, self.x1 = _widen(*x_range)
        self.y0, self.y1 = _widen(*y_range)
        self.w, self.h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(self, value: float) -> float:
        return LEFT + (value - self.x0) / (self.x1 - self.x0) * self.w

    def y(self, value: float) -> float:
        return TOP + self.h - (value - self.y0) / (self.y1 - self.y0) * self.h

    def diagonal(self) -> str:
        """The dashed y = x reference line, where it crosses the chart."""
        low, high = max(self.x0, self.y0), min(self.x1, self.y1)
        return (f'<line x1="{self.x(low):.1f}" y1="{self.y(low):.1f}" x2="{self.x(high):.1f}" '
                f'y2="{self.y(high):.1f}" stroke="#999" stroke-dasharray="4 3"/>')

    def axes(self, x_label: str, y_label: str) -> str:
        parts = [f'<rect x="{LEFT}" y="{TOP}" width="{self.w}" height="{self.h}" '
                 'fill="#fff" stroke="#ccc"/>']
        for t in ticks(self.x0, self.x1):
            x = self.x(t)
            parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{TOP + self.h}" '
                         f'stroke="#eee"/><text x="{x:.1f}" y="{TOP + self.h + 15}" '
                         f'text-anchor="middle">{_label(t)}</text>')
        for t in ticks(self.y0, self.y1):
            y = self.y(t)
            parts.append(f'<line x1="{LEFT}" x2="{LEFT + self.w}" y1="{y:.1f}" y2="{y:.1f}" '
                         f'stroke="#eee"/><text x="{LEFT - 6}" y="{y + 4:.1f}" '
                         f'text-anchor="end">{_label(t)}</text>')
        parts.append(f'<text x="{LEFT + self.w / 2}" y="{HEIGHT - 8}" '
                     f'text-anchor="middle">{escape(x_label)}</text>')
        parts.append(f'<text transform="translate(14 {TOP + self.h / 2}) rotate(-90)" '
                     f'text-anchor="middle">{escape(y_label)}</text>')
        return "".join(parts)


def _widen(low: float, high: float) -> tuple[float, float]:
    if not (math.isfinite(low) and math.isfinite(high)):
        return 0.0, 1.0
    if high <= low:
        pad = abs(low) * 0.05 or 0.5
        return low - pad, high + pad
    return low, high


def _svg(title: str, body: str, width: int = WIDTH, height: int = HEIGHT) -> str:
    return (f'<svg class="plot" role="img" aria-label="{escape(title)}" width="{width}" '
            f'height="{height}" viewBox="0 0 {width} {height}" '
            f'xmlns="http://www.w3.org/2000/svg"><text x="{LEFT}" y="18" class="title">'
            f'{escape(title)}</text>{body}</svg>')


def _legend(names: Sequence[str], colors: Sequence[str], frame: _Frame,
            corner: str = "lower right", clipped: str = "") -> str:
    """The legend in a corner of the plot area, or ``"outside"`` it on the right (where it
    covers no line); ``clipped`` adds a row saying what the triangles on the edge are."""
    rows = []
    if corner == "outside":
        x, y0 = LEFT + frame.w + 12, TOP
    else:
        x = LEFT + frame.w - 150 if "right" in corner else LEFT + 8
        y0 = TOP + frame.h - 14 * len(names) - 4 if "lower" in corner else TOP + 6
    for i, (name, color) in enumerate(zip(names, colors)):
        y = y0 + 14 * i
        rows.append(f'<rect x="{x}" y="{y}" width="10" height="10" fill="{color}"/>'
                    f'<text x="{x + 14}" y="{y + 9}">{_short(name, 26)}</text>')
    if clipped:
        rows.append(f'<text x="{x}" y="{y0 + 14 * len(names) + 9}">{escape(clipped)}</text>')
    return '<g class="legend">' + "".join(rows) + "</g>"


def _staircase(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """A best-so-far curve: each value held until the next one."""
    stairs = []
    for j, (a, b) in enumerate(points):
        if j:
            stairs.append((a, points[j - 1][1]))
        stairs.append((a, b))
    return stairs


def _beyond(points: Sequence[tuple[float, float]], frame: _Frame, color: str) -> str:
    """Triangles inside the top or bottom edge for the points beyond the y range, pointing
    the way the value lies; the tooltip holds the value."""
    marks = []
    for a, b in points:
        if frame.y0 <= b <= frame.y1:
            continue
        x, below = frame.x(a), b < frame.y0
        tip = frame.y(frame.y0 if below else frame.y1)
        base = tip - 9 if below else tip + 9
        marks.append(f'<path class="clipped" d="M{x - 6:.1f},{base:.1f} L{x + 6:.1f},{base:.1f} '
                     f'L{x:.1f},{tip:.1f} Z" fill="{color}" stroke="#fff">'
                     f'<title>{_label(b)}</title></path>')
    return "".join(marks)


def lines(series: Sequence[tuple[str, Sequence[float], Sequence[float]]], title: str,
          x_label: str, y_label: str, *, step: bool = False, diagonal: bool = False,
          x_range: tuple[float, float] | None = None,
          y_range: tuple[float, float] | None = None, legend: str = "lower right",
          overall: str | None = None) -> str:
    """One polyline per ``(name, xs, ys)``; ``step`` draws a staircase (best-so-far curves),
    ``diagonal`` the y = x reference line; the series named ``overall`` is drawn dashed in
    grey under the others (the envelope of them all). Values beyond ``y_range`` are drawn on
    its edge and marked there. ``legend``: a corner of the plot, or ``"outside"`` beside it
    (the chart is then wider)."""
    xs = [v for _, x, _ in series for v in x if math.isfinite(v)]
    ys = [v for _, _, y in series for v in y if math.isfinite(v)]
    frame = _Frame(x_range or (min(xs, default=0), max(xs, default=1)),
                   y_range or (min(ys, default=0), max(ys, default=1)))
    parts = [frame.axes(x_label, y_label)]
    if diagonal:
        parts.append(frame.diagonal())
    colors = ["#555" if name == overall else PALETTE[i % len(PALETTE)]
              for i, (name, _, _) in enumerate(series)]
    order = sorted(range(len(series)), key=lambda i: series[i][0] != overall)
    clipped = []
    for i in order:
        (name, x, y), color = series[i], colors[i]
        points = [(a, b) for a, b in zip(x, y) if math.isfinite(a) and math.isfinite(b)]
        clipped.append(_beyond(points, frame, color))
        drawn = [(a, min(max(b, frame.y0), frame.y1))
                 for a, b in (_staircase(points) if step else points)]
        path = " ".join(f"{frame.x(a):.1f},{frame.y(b):.1f}" for a, b in drawn)
        dash = ' stroke-dasharray="6 3" stroke-width="3"' if name == overall else \
            ' stroke-width="2"'
        parts.append(f'<polyline class="mark" points="{path}" fill="none" stroke="{color}"'
                     f'{dash}/>')
        if len(drawn) == 1:
            a, b = drawn[0]
            parts.append(f'<circle class="mark" cx="{frame.x(a):.1f}" cy="{frame.y(b):.1f}" '
                         f'r="3" fill="{color}"/>')
    parts.extend(clipped)  # over every line
    if len(series) > 1 or series and series[0][0]:
        parts.append(_legend([s[0] for s in series], colors, frame, legend,
                             "\u25bc\u25b2 beyond the axis" if any(clipped) else ""))
    return _svg(title, "".join(parts), WIDTH + (LEGEND_WIDTH if legend == "outside" else 0))


def scatter(x: Sequence[float], y: Sequence[float], title: str, x_label: str, y_label: str, *,
            diagonal: bool = False, zero_line: bool = False) -> str:
    frame = _Frame((min(x), max(x)), (min(y), max(y)))
    parts = [frame.axes(x_label, y_label)]
    if diagonal:
        parts.append(frame.diagonal())
    if zero_line and frame.y0 < 0 < frame.y1:
        parts.append(f'<line x1="{LEFT}" x2="{LEFT + frame.w}" y1="{frame.y(0):.1f}" '
                     f'y2="{frame.y(0):.1f}" stroke="#999" stroke-dasharray="4 3"/>')
    parts.extend(f'<circle class="mark" cx="{frame.x(a):.1f}" cy="{frame.y(b):.1f}" r="2.5" '
                 f'fill="{PALETTE[0]}" fill-opacity="0.55"/>' for a, b in zip(x, y))
    return _svg(title, "".join(parts))


def bars(labels: Sequence[str], values: Sequence[float], title: str, x_label: str,
         errors: Sequence[float] | None = None) -> str:
    """Horizontal bars, first label on top; ``errors`` draws a whisker of ± that much."""
    errors = list(errors) if errors is not None else [0.0] * len(values)
    low = min(0.0, *(v - e for v, e in zip(values, errors)))
    high = max(0.0, *(v + e for v, e in zip(values, errors)))
    height = max(140, TOP + BOTTOM + 16 * len(values) + 6)
    left = 150
    w = WIDTH - left - RIGHT
    span = (high - low) or 1.0

    def sx(v: float) -> float:
        return left + (v - low) / span * w

    parts = [f'<line x1="{sx(0):.1f}" x2="{sx(0):.1f}" y1="{TOP}" y2="{height - BOTTOM}" '
             'stroke="#999"/>']
    for t in ticks(low, high, 4):
        parts.append(f'<text x="{sx(t):.1f}" y="{height - BOTTOM + 15}" '
                     f'text-anchor="middle">{_label(t)}</text>')
    for i, (name, value, error) in enumerate(zip(labels, values, errors)):
        y = TOP + 16 * i
        x0, x1 = sorted((sx(0), sx(value)))
        parts.append(f'<text x="{left - 6}" y="{y + 11}" text-anchor="end">'
                     f'{_short(name, 22)}</text>'
                     f'<rect class="mark" x="{x0:.1f}" y="{y + 2}" width="{max(x1 - x0, 1):.1f}" '
                     f'height="12" fill="{PALETTE[0]}"/>')
        if error:
            parts.append(f'<line x1="{sx(value - error):.1f}" x2="{sx(value + error):.1f}" '
                         f'y1="{y + 8}" y2="{y + 8}" stroke="#333"/>')
    parts.append(f'<text x="{left + w / 2}" y="{height - 8}" text-anchor="middle">'
                 f'{escape(x_label)}</text>')
    return _svg(title, "".join(parts), WIDTH, height)


def heatmap(matrix: Sequence[Sequence[float]], rows: Sequence[str], columns: Sequence[str],
            title: str, row_label: str, column_label: str,
            shares: Sequence[Sequence[float]] | None = None) -> str:
    """Cells shaded by their share of the row (``shares``, or of the row's total shown),
    counts and shares written inside where a cell is large enough, both in each cell's
    tooltip."""
    n_rows, n_cols = len(rows), len(columns)
    size = min(70, (WIDTH - 120) / max(n_cols, 1), (HEIGHT - 90) / max(n_rows, 1))
    left, top = 100, 46
    if shares is None:
        shares = [[value / (sum(row) or 1) for value in row] for row in matrix]
    parts = []
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            share = shares[i][j]
            shade = f"rgb({int(255 - 177 * share)},{int(255 - 134 * share)},{int(255 - 88 * share)})"
            x, y = left + j * size, top + i * size
            ink = "#fff" if share > 0.6 else "#222"
            parts.append(f'<rect class="mark" x="{x:.1f}" y="{y:.1f}" width="{size:.1f}" '
                         f'height="{size:.1f}" fill="{shade}" stroke="#fff"><title>'
                         f'{escape(f"{row_label} {rows[i]}, {column_label} {columns[j]}")}: '
                         f'{int(value)} ({_percent(share)} of the row)</title></rect>')
            parts.append(_cell_text(x, y, size, ink, int(value), share))
    for i, name in enumerate(rows):
        parts.append(f'<text x="{left - 6}" y="{top + i * size + size / 2 + 4:.1f}" '
                     f'text-anchor="end">{_short(name, 14)}</text>')
    for j, name in enumerate(columns):
        parts.append(f'<text x="{left + j * size + size / 2:.1f}" y="{top - 6}" '
                     f'text-anchor="middle">{_short(name, 8)}</text>')
    parts.append(f'<text x="{left + n_cols * size / 2:.1f}" y="{top + n_rows * size + 18:.1f}" '
                 f'text-anchor="middle">{escape(column_label)} (columns) · '
                 f'{escape(row_label)} (rows)</text>')
    return _svg(title, "".join(parts))


def _percent(share: float) -> str:
    return f"{100 * share:.1f}%"


def _cell_text(x: float, y: float, size: float, ink: str, count: int, share: float) -> str:
    """A cell's count, and below it its share of the row when the cell has room for both."""
    middle = x + size / 2
    if size >= 36:
        return (f'<text x="{middle:.1f}" y="{y + size / 2 - 2:.1f}" text-anchor="middle" '
                f'fill="{ink}">{count}</text><text x="{middle:.1f}" y="{y + size / 2 + 11:.1f}" '
                f'text-anchor="middle" fill="{ink}" font-size="10">{_percent(share)}</text>')
    if size >= 18:
        return (f'<text x="{middle:.1f}" y="{y + size / 2 + 4:.1f}" text-anchor="middle" '
                f'fill="{ink}">{count}</text>')
    return ""
