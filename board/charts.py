"""Speed-of-service charts drawn on the server as SVG: no script, no network, readable at 2 m."""

from datetime import datetime
from typing import Any, Final
from xml.sax.saxutils import escape, quoteattr

WIDTH: Final = 1000
HEIGHT: Final = 360
MARGIN_LEFT: Final = 90
MARGIN_RIGHT: Final = 20
MARGIN_TOP: Final = 30
MARGIN_BOTTOM: Final = 60
#: High contrast on the board's dark background.
INK: Final = "#ffffff"
GRID: Final = "#555555"
BAR: Final = "#4fc3f7"
P50: Final = "#81c784"
P90: Final = "#ffb74d"
FONT: Final = 'font-family="sans-serif" font-size="22"'
#: Quarters shown at least, however quiet the start of the day.
MIN_QUARTERS: Final = 8


def duration(seconds: float | None) -> str:
    """Seconds as a kitchen reads them: 45 s, 3:05, or a dash when there is nothing."""
    if seconds is None:
        return "—"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, rest = divmod(whole, 60)
    return f"{minutes}:{rest:02d}"


def _svg(label: str, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label={quoteattr(label)}>'
        f"<title>{escape(label)}</title>"
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#111111"/>' + "".join(body) + "</svg>\n"
    )


def _text(x: float, y: float, text: str, anchor: str = "middle", fill: str = INK) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{fill}" {FONT}>'
        f"{escape(text)}</text>"
    )


def _nice_max(value: float) -> float:
    """A round top for an axis at or above `value`."""
    top = 1.0
    while top < value:
        for step in (2, 2.5, 2):
            top *= step
            if top >= value:
                break
    return top


def _y_axis(top: float, label: Any) -> list[str]:
    """Grid lines and labels at 0, a quarter, ... up to `top`."""
    parts = []
    plot = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    for i in range(5):
        value = top * i / 4
        y = HEIGHT - MARGIN_BOTTOM - plot * i / 4
        parts.append(
            f'<line x1="{MARGIN_LEFT}" y1="{y:.1f}" x2="{WIDTH - MARGIN_RIGHT}" y2="{y:.1f}" '
            f'stroke="{GRID}" stroke-width="1"/>'
        )
        parts.append(_text(MARGIN_LEFT - 10, y + 8, label(value), anchor="end"))
    return parts


def quarters_chart(points: list[tuple[float, int]], day_start: float) -> str:
    """Tickets sent in each quarter hour of the day, as bars, hours marked underneath."""
    first_busy = next((i for i, (_, count) in enumerate(points) if count), len(points))
    shown = points[max(0, min(first_busy - 1, len(points) - MIN_QUARTERS)) :] or [(day_start, 0)]
    total = sum(count for _, count in points)
    label = f"Tickets per quarter hour today: {total} in all"
    busiest = max((count for _, count in shown), default=0)
    top = float(max(4, -(-busiest // 4) * 4))  # whole numbers on every grid line
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    step = plot_w / len(shown)
    body = _y_axis(top, lambda v: f"{v:g}")
    for i, (when, count) in enumerate(shown):
        height = plot_h * count / top
        x = MARGIN_LEFT + i * step
        body.append(
            f'<rect x="{x + step * 0.1:.1f}" y="{HEIGHT - MARGIN_BOTTOM - height:.1f}" '
            f'width="{step * 0.8:.1f}" height="{height:.1f}" fill="{BAR}">'
            f"<title>{escape(clock(when))}: {count} tickets</title></rect>"
        )
        if datetime.fromtimestamp(when).minute == 0 or len(shown) <= 12:
            body.append(_text(x + step / 2, HEIGHT - MARGIN_BOTTOM + 30, clock(when)))
    body.append(_text(WIDTH / 2, 22, label))
    return _svg(label, body)


def stations_chart(figures: list[dict[str, Any]]) -> str:
    """Median and 90th-percentile ticket time per station today, side by side."""
    label = "Ticket time per station today: median and 90th percentile"
    if not figures:
        return message_chart("No stations on the menu")
    times = [f.get("ticket") or {} for f in figures]
    top = _nice_max(max((t.get("p90") or 0 for t in times), default=0) or 60)
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    step = plot_w / len(figures)
    body = _y_axis(top, duration)
    for i, (figure, timing) in enumerate(zip(figures, times, strict=True)):
        x = MARGIN_LEFT + i * step
        for j, (name, colour) in enumerate((("p50", P50), ("p90", P90))):
            value = timing.get(name)
            height = plot_h * (value or 0) / top
            bar_x = x + step * (0.15 + 0.35 * j)
            body.append(
                f'<rect x="{bar_x:.1f}" y="{HEIGHT - MARGIN_BOTTOM - height:.1f}" '
                f'width="{step * 0.33:.1f}" height="{height:.1f}" fill="{colour}"/>'
            )
            body.append(
                _text(bar_x + step * 0.165, HEIGHT - MARGIN_BOTTOM - height - 6, duration(value))
            )
        body.append(_text(x + step / 2, HEIGHT - MARGIN_BOTTOM + 30, str(figure["station"])))
    body.append(_text(MARGIN_LEFT + 10, 22, "■ median", anchor="start", fill=P50))
    body.append(_text(MARGIN_LEFT + 170, 22, "■ 90th percentile", anchor="start", fill=P90))
    return _svg(label, body)


def message_chart(message: str) -> str:
    """A chart that only says something (the figures could not be read)."""
    return _svg(message, [_text(WIDTH / 2, HEIGHT / 2, message)])


def clock(moment: float) -> str:
    """A moment as 19:45."""
    return datetime.fromtimestamp(moment).strftime("%H:%M")


def row_of(
    station: str, today: dict[str, Any] | None, hour: dict[str, Any] | None
) -> dict[str, str]:
    """One station's line in the speed table, every figure as text."""
    day_ticket = (today or {}).get("ticket") or {}
    hour_cook = (hour or {}).get("cook") or {}
    hour_ticket = (hour or {}).get("ticket") or {}
    return {
        "station": station,
        "tickets": str(day_ticket.get("count") or 0),
        "p50": duration(day_ticket.get("p50")),
        "p90": duration(day_ticket.get("p90")),
        "cook_hour": duration(hour_cook.get("mean")),
        "ticket_hour": duration(hour_ticket.get("mean")),
    }
