"""Inline SVG charts for the quality dashboard, drawn on the server: no script, no build step.

Each function takes plain figures and returns SVG markup (``SafeString``) with every text
escaped. No ``style`` attribute anywhere (the Content-Security-Policy allows no inline styles):
colours are presentation attributes, sizes a ``viewBox``; the page's CSS scales the chart.
Each chart carries a ``<title>`` and an ``aria-label`` and the page gives its figures as a table.
"""

from __future__ import annotations

from html import escape

from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 480, 260
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 16, 40
INK, MUTED, GRID = "#14202e", "#4a5565", "#dfe4ec"
# One colour per series, distinguishable for the common colour-vision deficiencies (Okabe-Ito).
PALETTE = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9")


def _svg(body: list[str], label: str, *, width: int = WIDTH, height: int = HEIGHT) -> SafeString:
    text = escape(label)
    return mark_safe(  # noqa: S308 - every text below went through escape()
        f'<svg class="qd-chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{text}" xmlns="http://www.w3.org/2000/svg"><title>{text}</title>'
        + "".join(body)
        + "</svg>"
    )


def _x(value: float) -> float:
    return LEFT + value * (WIDTH - LEFT - RIGHT)


def _y(value: float, top: float = 1.0) -> float:
    return HEIGHT - BOTTOM - (value / top) * (HEIGHT - TOP - BOTTOM)


def _text(x: float, y: float, text: str, *, anchor: str = "middle", size: int = 11) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" '
        f'fill="{MUTED}">{escape(text)}</text>'
    )


def _axes(
    x_title: str, y_title: str, *, x_ticks=(0, 0.25, 0.5, 0.75, 1.0), y_top: float = 1.0
) -> list[str]:
    """Grid, tick labels (shares) and titles; the y-axis runs from 0 to ``y_top``."""
    parts = []
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        y = _y(tick)
        parts.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="{GRID}"/>'
        )
        label = f"{tick * y_top:.0%}" if y_top >= 0.1 else f"{tick * y_top:.1%}"
        parts.append(_text(LEFT - 6, y + 4, label, anchor="end"))
    for tick in x_ticks:
        parts.append(_text(_x(tick), HEIGHT - BOTTOM + 16, f"{tick:.0%}"))
    parts.append(_text((LEFT + WIDTH - RIGHT) / 2, HEIGHT - 6, x_title))
    parts.append(
        f'<text x="12" y="{(TOP + HEIGHT - BOTTOM) / 2:.1f}" text-anchor="middle" font-size="11" '
        f'fill="{MUTED}" transform="rotate(-90 12 {(TOP + HEIGHT - BOTTOM) / 2:.1f})">'
        f"{escape(y_title)}</text>"
    )
    parts.append(
        f'<line x1="{LEFT}" y1="{_y(0):.1f}" x2="{WIDTH - RIGHT}" y2="{_y(0):.1f}" '
        f'stroke="{MUTED}"/>'
    )
    return parts


def _legend(names: list[str], *, colours=None, dashed=()) -> list[str]:
    """A key above the plot: a short line in each series' colour (dashed where drawn so)."""
    parts, x = [], LEFT
    for n, name in enumerate(names):
        colour = (colours or PALETTE)[n % len(colours or PALETTE)]
        dash = ' stroke-dasharray="4 2"' if name in dashed else ""
        parts.append(
            f'<line x1="{x}" y1="7" x2="{x + 16}" y2="7" stroke="{colour}" '
            f'stroke-width="2.5"{dash}/>'
        )
        parts.append(_text(x + 20, 11, name, anchor="start"))
        x += 30 + 6 * len(name)
    return parts


def trend_chart(labels: list[str], series: dict[str, list[float | None]], title: str) -> SafeString:
    """Shares (0..1) per period: one line per series; a period without a value is a gap."""
    parts = _axes("week starting", "share", x_ticks=())
    n = len(labels)

    def at(i: int) -> float:  # inset, so the first and last week's labels fit
        return _x(0.08 + 0.84 * i / (n - 1)) if n > 1 else _x(0.5)

    for i, label in enumerate(labels):
        if n <= 6 or i % max(1, -(-n // 6)) == 0:
            parts.append(_text(at(i), HEIGHT - BOTTOM + 16, label))
    for s, values in enumerate(series.values()):
        colour = PALETTE[s % len(PALETTE)]
        run: list[str] = []
        runs = []
        for i, value in enumerate(values):
            if value is None:
                if run:
                    runs.append(run)
                run = []
                continue
            x, y = at(i), _y(min(max(value, 0.0), 1.0))
            run.append(f"{x:.1f},{y:.1f}")
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>')
        if run:
            runs.append(run)
        for points in runs:
            if len(points) > 1:
                parts.append(
                    f'<polyline points="{" ".join(points)}" fill="none" stroke="{colour}" '
                    'stroke-width="2"/>'
                )
    parts += _legend(list(series))
    return _svg(parts, title)


def reliability_chart(bins: list[dict], n_bins: int, title: str) -> SafeString:
    """Share kept against the confidence shown, per bin (bar width: the bin; the dot: the
    bin's mean confidence and share kept); the diagonal is a perfectly calibrated number."""
    parts = _axes("claim confidence shown", "share kept by the adjuster")
    parts.append(
        f'<line x1="{_x(0):.1f}" y1="{_y(0):.1f}" x2="{_x(1):.1f}" y2="{_y(1):.1f}" '
        f'stroke="{MUTED}" stroke-dasharray="4 3"/>'
    )
    width = 1 / n_bins
    for row in bins:
        x0 = _x(row["bin"] * width)
        w = _x(width) - _x(0)
        top = _y(row["accuracy"])
        parts.append(
            f'<rect x="{x0 + 1:.1f}" y="{top:.1f}" width="{w - 2:.1f}" '
            f'height="{_y(0) - top:.1f}" fill="{PALETTE[0]}" fill-opacity="0.35"/>'
        )
        parts.append(
            f'<circle cx="{_x(row["confidence"]):.1f}" cy="{top:.1f}" r="3.5" fill="{PALETTE[0]}">'
            f"<title>{escape(_bin_tip(row, width))}</title></circle>"
        )
    return _svg(parts, title)


def _bin_tip(row: dict, width: float) -> str:
    low = row["bin"] * width
    return (
        f"{low:.1f}-{low + width:.1f}: {row['count']} claims, mean shown "
        f"{row['confidence']:.2f}, {row['accuracy']:.0%} kept"
    )


def coverage_risk_chart(points: list[dict], target: float, title: str) -> SafeString:
    """Error of the claims decided automatically against the share decided automatically, over
    the claim-confidence threshold sweep; the dashed line is the 95 % upper bound, the red line
    the target error. The y-axis zooms to the data (at least twice the target)."""
    top = max([target * 2, *(min(p["error_upper"], 1.0) for p in points if p["n_auto"])], default=1)
    top = min(1.0, max(top, 0.05))
    parts = _axes("share decided automatically", "error", y_top=top)
    ty = _y(min(target, top), top)
    parts.append(
        f'<line x1="{LEFT}" y1="{ty:.1f}" x2="{WIDTH - RIGHT}" y2="{ty:.1f}" '
        f'stroke="#b42318" stroke-width="1"/>'
    )
    parts.append(_text(WIDTH - RIGHT - 2, ty - 4, f"target {target:.0%}", anchor="end"))
    ordered = sorted((p for p in points if p["n_auto"]), key=lambda p: p["automation_rate"])
    for key, colour, dash in (
        ("error_rate", PALETTE[1], ""),
        ("error_upper", PALETTE[0], ' stroke-dasharray="5 3"'),
    ):
        coords = [
            f"{_x(p['automation_rate']):.1f},{_y(min(p[key], top), top):.1f}" for p in ordered
        ]
        if len(coords) > 1:
            parts.append(
                f'<polyline points="{" ".join(coords)}" fill="none" stroke="{colour}" '
                f'stroke-width="2"{dash}/>'
            )
        elif coords:
            x, y = coords[0].split(",")
            parts.append(f'<circle cx="{x}" cy="{y}" r="3" fill="{colour}"/>')
    parts += _legend(
        ["error", "95% upper bound"], colours=(PALETTE[1], PALETTE[0]), dashed={"95% upper bound"}
    )
    return _svg(parts, title)


def bar_rows(rows: list[dict], title: str, *, limit: int = 12) -> SafeString:
    """Horizontal bars of a rate (0..1) per name, with the counts beside."""
    rows = rows[:limit]
    row_h, label_w = 22, 130
    height = TOP + row_h * max(len(rows), 1) + 8
    bar_w = WIDTH - label_w - 110
    parts = []
    for n, row in enumerate(rows):
        y = TOP + n * row_h
        rate = row["rate"] or 0.0
        parts.append(_text(label_w - 8, y + 14, row["name"], anchor="end"))
        parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{bar_w}" height="14" fill="{GRID}"/>')
        parts.append(
            f'<rect x="{label_w}" y="{y + 3}" width="{bar_w * rate:.1f}" height="14" '
            f'fill="{PALETTE[1]}"/>'
        )
        value = "-" if row["rate"] is None else f"{row['rate']:.0%}"
        parts.append(
            _text(label_w + bar_w + 6, y + 14, f"{value} of {row['regions']}", anchor="start")
        )
    return _svg(parts, title, height=height)
