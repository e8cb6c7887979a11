"""The moderation dashboard: ``/moderate/stats`` (a page with SVG charts) and ``/api/v1/stats``.

The charts are drawn on the server: this module turns the figures of
:mod:`moderation.services.stats` into plain shapes (rectangles, paths, ticks) and the template
writes them as inline SVG, escaping every label (moderator names are user input). No script,
no build step, no external asset.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask import Blueprint, jsonify, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from moderation.domain.errors import BadRequestError
from moderation.domain.policy import Role
from moderation.services import stats as service
from moderation.web.auth import current_moderator, require
from moderation.web.database import get_session

bp = Blueprint("stats", __name__)

WIDTH = 720
HEIGHT = 200
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 12, 28

# Outcome colours (the queue page's: green published, amber waiting, orange spam, red abuse).
STATUS_SERIES = (
    ("approved", "published", "#2e7d32"),
    ("pending", "waiting", "#f9a825"),
    ("spam", "spam", "#ef6c00"),
    ("rejected", "refused as abuse", "#c62828"),
)
DECISION_SERIES = (
    ("approved", "approved", "#2e7d32"),
    ("spam", "spam", "#ef6c00"),
    ("rejected", "refused as abuse", "#c62828"),
    ("pending", "back to review", "#f9a825"),
    ("undo", "undo", "#757575"),
)
KIND_LABELS = {
    "published": "published by the model",
    "refused_spam": "refused as spam (spam head)",
    "refused_abuse": "refused as abuse (abuse head)",
    "held_spam": "held by the spam head",
    "held_abuse": "held by the abuse head",
    "held_both": "held by both heads",
    "rules": "decided by a rule",
}


@dataclass
class Shape:
    """A rectangle (``w``, ``h``) or a point, with its colour and tooltip."""

    x: float
    y: float
    w: float = 0.0
    h: float = 0.0
    color: str = "#555"
    title: str = ""
    data: dict[str, str] = field(default_factory=dict)


@dataclass
class Chart:
    """One chart's shapes in SVG user units."""

    width: int
    height: int
    bars: list[Shape] = field(default_factory=list)
    path: str = ""
    points: list[Shape] = field(default_factory=list)
    y_ticks: list[tuple[float, str]] = field(default_factory=list)
    x_labels: list[tuple[float, str]] = field(default_factory=list)
    labels: list[Shape] = field(default_factory=list)  # row labels of horizontal bars
    legend: list[tuple[str, str]] = field(default_factory=list)
    empty: bool = False


def _nice_max(value: float, *, whole: bool = True) -> float:
    """An axis maximum at or above ``value`` split into four round steps (1, 2 or 5 times a
    power of ten; whole steps for counts)."""
    if value <= 0:
        return 4.0
    quarter = value / 4
    power = 10.0 ** math.floor(math.log10(quarter))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= quarter)
    return 4 * float(max(step, 1.0) if whole else step)


def _ticks(top: float, fmt: Any, plot_h: float) -> list[tuple[float, str]]:
    return [(TOP + plot_h - plot_h * i / 4, fmt(top * i / 4)) for i in range(5)]


def _x_labels(days: Sequence[date], slot: float) -> list[tuple[float, str]]:
    # Evenly spaced, counted back from today so that today always has its label.
    step = max(1, math.ceil(len(days) / 8))
    last = len(days) - 1
    return [
        (LEFT + slot * (i + 0.5), d.strftime("%d %b"))
        for i, d in enumerate(days)
        if (last - i) % step == 0
    ]


def _count(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"


def duration(seconds: float | None) -> str:
    """A wait in words: "45 s", "12 min", "3.5 h", "2.1 days"."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86400 * 2:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def stacked_days(
    days: Sequence[date],
    values: Mapping[date, Mapping[str, float]],
    series: Sequence[tuple[str, str, str]],
    *,
    fmt: Any = None,
) -> Chart:
    """Vertical bars, one per day, stacked by series (counts unless ``fmt`` says otherwise)."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    totals = [sum(values.get(d, {}).get(key, 0) for key, _, _ in series) for d in days]
    top = _nice_max(max(totals, default=0), whole=fmt is None)
    fmt = fmt or _count
    slot = plot_w / max(len(days), 1)
    chart = Chart(WIDTH, HEIGHT, empty=not any(totals))
    chart.y_ticks = _ticks(top, fmt, plot_h)
    chart.x_labels = _x_labels(days, slot)
    chart.legend = [(label, color) for _, label, color in series]
    for i, d in enumerate(days):
        base = float(TOP + plot_h)
        for key, label, color in series:
            n = values.get(d, {}).get(key, 0)
            if not n:
                continue
            h = plot_h * n / top
            base -= h
            chart.bars.append(
                Shape(
                    x=LEFT + slot * i + slot * 0.1,
                    y=base,
                    w=slot * 0.8,
                    h=h,
                    color=color,
                    title=f"{d.isoformat()}: {fmt(n)} {label}",
                    data={"day": d.isoformat(), "series": key, "value": fmt(n)},
                )
            )
    return chart


def line(points: Sequence[tuple[date, float | None]], *, fmt: Any, color: str) -> Chart:
    """A line through one value per day (gaps where there is none), with a dot per value."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    known = [v for _, v in points if v is not None]
    top = _nice_max(max(known, default=0))
    slot = plot_w / max(len(points), 1)
    chart = Chart(WIDTH, HEIGHT, empty=not known)
    chart.y_ticks = _ticks(top, fmt, plot_h)
    chart.x_labels = _x_labels([d for d, _ in points], slot)
    steps = []
    pen_down = False
    for i, (d, v) in enumerate(points):
        if v is None:
            pen_down = False
            continue
        x, y = LEFT + slot * (i + 0.5), TOP + plot_h - plot_h * v / top
        steps.append(f"{'L' if pen_down else 'M'}{x:.1f},{y:.1f}")
        pen_down = True
        chart.points.append(
            Shape(
                x=x,
                y=y,
                color=color,
                title=f"{d.isoformat()}: {fmt(v)}",
                data={"day": d.isoformat(), "value": fmt(v)},
            )
        )
    chart.path = " ".join(steps)
    return chart


def horizontal(
    rows: Sequence[tuple[str, Mapping[str, int]]], series: Sequence[tuple[str, str, str]]
) -> Chart:
    """Horizontal bars, one per row (a moderator), stacked by series."""
    row_h, label_w = 26, 160
    height = TOP + BOTTOM + row_h * max(len(rows), 1)
    plot_w = WIDTH - label_w - RIGHT
    totals = [sum(counts.values()) for _, counts in rows]
    top = _nice_max(max(totals, default=0))
    chart = Chart(WIDTH, height, empty=not any(totals))
    chart.legend = [(label, color) for _, label, color in series]
    chart.x_labels = [(label_w + plot_w * i / 4, _count(top * i / 4)) for i in range(5)]
    for r, (name, counts) in enumerate(rows):
        y = TOP + row_h * r
        chart.labels.append(Shape(x=label_w - 6, y=y + row_h * 0.65, title=name))
        left = float(label_w)
        for key, label, color in series:
            n = counts.get(key, 0)
            if not n:
                continue
            w = plot_w * n / top
            chart.bars.append(
                Shape(
                    x=left,
                    y=y + 3,
                    w=w,
                    h=row_h - 6,
                    color=color,
                    title=f"{name}: {n} {label}",
                    data={"row": name, "series": key, "value": str(n)},
                )
            )
            left += w
    return chart


def charts(stats: service.Stats) -> dict[str, Chart]:
    """Every chart of the dashboard."""
    days = stats.range.days
    times = {t.day: t.median_seconds / 3600 for t in stats.decision_times}
    # The oldest wait in hours, or in days once it passes two (round steps of days then).
    waits = [p.oldest_seconds for p in stats.backlog if p.oldest_seconds is not None]
    unit = 86400 if max(waits, default=0) > 2 * 86400 else 3600
    return {
        "per_day": stacked_days(days, stats.per_day, STATUS_SERIES),
        "backlog": line(
            [(d, p.pending) for d, p in zip(days, stats.backlog, strict=True)],
            fmt=_count,
            color="#f9a825",
        ),
        "oldest": line(
            [
                (d, p.oldest_seconds / unit if p.oldest_seconds is not None else None)
                for d, p in zip(days, stats.backlog, strict=True)
            ],
            fmt=lambda v: duration(v * unit),
            color="#6a1b9a",
        ),
        "time_to_decision": stacked_days(
            days,
            {d: {"median": h} for d, h in times.items()},
            (("median", "median wait", "#1565c0"),),
            fmt=lambda h: duration(h * 3600),
        ),
        "moderators": horizontal(stats.moderators, DECISION_SERIES),
    }


@bp.get("/moderate/stats")
def page() -> Response | tuple[str, int] | str:
    """The dashboard page (moderators only; others are sent to sign in)."""
    moderator = current_moderator()
    if moderator is None:
        return redirect(url_for("moderate.login"), code=303)
    try:
        days = service.parse_days(request.args.get("days"))
    except BadRequestError as exc:
        return render_template("stats.html", moderator=moderator, error=exc.message), 400
    stats = service.dashboard(get_session(), days=days)
    return render_template(
        "stats.html",
        moderator=moderator,
        stats=stats,
        charts=charts(stats),
        days=days,
        kinds=KIND_LABELS,
        duration=duration,
        choices=(7, 30, 90),
    )


@bp.get("/api/v1/stats")
@require(Role.MODERATOR)
def api() -> Response:
    """The dashboard's figures as JSON (``?days=``, 1 to 90, default 30)."""
    days = service.parse_days(request.args.get("days"))
    return jsonify(service.dashboard(get_session(), days=days).as_json())
