"""The speed page's charts: well-formed SVG drawn on the server, text escaped, figures as text."""

import xml.etree.ElementTree as ET

from board.charts import duration, message_chart, quarters_chart, row_of, stations_chart

SVG = "{http://www.w3.org/2000/svg}"


def texts(svg: str) -> list[str]:
    """Every piece of text in the chart."""
    root = ET.fromstring(svg)  # noqa: S314  (our own output)
    return [node.text or "" for node in root.iter(f"{SVG}text")]


def test_durations_read_as_a_kitchen_reads_them() -> None:
    assert [duration(s) for s in (None, 0.4, 45, 59.6, 185, 3725)] == [
        "—", "0 s", "45 s", "1:00", "3:05", "62:05",
    ]  # fmt: skip


def test_tickets_per_quarter_hour() -> None:
    start = 1_796_083_200.0  # a midnight, give or take the time zone
    points = [(start + 900 * i, 0) for i in range(40)] + [(start + 36_000, 7), (start + 36_900, 3)]

    svg = quarters_chart(points, start)

    root = ET.fromstring(svg)  # noqa: S314
    assert root.get("role") == "img"
    assert "10 in all" in root.get("aria-label", "")
    bars = [rect for rect in root.iter(f"{SVG}rect") if rect.find(f"{SVG}title") is not None]
    assert len(bars) == 8  # the quiet hours before service are left out
    assert [float(bar.get("height", 0)) > 0 for bar in bars].count(True) == 2
    assert "<script" not in svg


def test_ticket_times_per_station_escape_their_names() -> None:
    figures = [
        {"station": "grill", "ticket": {"count": 4, "mean": 70.0, "p50": 65.0, "p90": 130.0}},
        {"station": "<b>cold</b>", "ticket": {"count": 0, "mean": None, "p50": None, "p90": None}},
    ]

    svg = stations_chart(figures)

    shown = texts(svg)
    assert "1:05" in shown and "2:10" in shown
    assert "<b>cold</b>" in shown  # as text
    assert "<b>" not in svg


def test_a_message_instead_of_a_chart() -> None:
    assert texts(message_chart("Redis <down>")) == ["Redis <down>"]


def test_a_station_row_has_every_figure_as_text() -> None:
    today = {"ticket": {"count": 12, "mean": 80.0, "p50": 75.0, "p90": 140.0}}
    hour = {"cook": {"mean": 42.0}, "ticket": {"mean": 95.0}}
    assert row_of("pasta", today, hour) == {
        "station": "pasta",
        "tickets": "12",
        "p50": "1:15",
        "p90": "2:20",
        "cook_hour": "42 s",
        "ticket_hour": "1:35",
    }
    assert row_of("cold", None, None)["p90"] == "—"
