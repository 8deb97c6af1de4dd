"""Server-drawn SVG charts: no third-party script, nothing the strict CSP would have to allow.

Colours are SVG presentation attributes, not style attributes, so `style-src 'self'` holds.
The two series differ by more than colour (WCAG 1.4.1): accepted bars are solid, sent bars
striped, in the bars and in the legend alike; the page shows the numbers as a table on demand.
"""

from __future__ import annotations

from datetime import date, timedelta

from markupsafe import Markup, escape

# The drawing's own units: it scales with the page, so its words (the dates under it and the
# legend) are HTML at the page's size, and the two y-axis numbers grow on narrow screens (CSS).
WIDTH, HEIGHT = 600, 160
LEFT, RIGHT, TOP, BOTTOM = 48, 8, 16, 8
ACCEPTED, SENT = "#12355b", "url(#sent-stripes)"
STRIPES = (
    '<defs><pattern id="sent-stripes" patternUnits="userSpaceOnUse" width="6" height="6" '
    'patternTransform="rotate(45)"><rect width="6" height="6" fill="#0b6e4f"/>'
    '<rect width="2" height="6" fill="#ffffff"/></pattern></defs>'
)


def _scale(top: int) -> int:
    """A round ceiling for the y axis (1, 2 or 5 times a power of ten), for readable labels."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if top <= step * factor:
                return step * factor
        step *= 10


def daily_bars(
    last_day: date,
    accepted: dict[date, int],
    sent: dict[date, int],
    *,
    days: int = 30,
    title: str,
    labels: tuple[str, str],
) -> Markup:
    """Two bars a day (accepted, sent) for the `days` days ending on `last_day`."""
    span = [last_day - timedelta(days=days - 1 - i) for i in range(days)]
    top = _scale(max([1, *(accepted.get(d, 0) for d in span), *(sent.get(d, 0) for d in span)]))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    base = HEIGHT - BOTTOM
    slot = plot_w / days
    bar = max(slot / 2 - 1, 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        # Hidden from screen readers: the page gives them the same numbers as a table.
        f'aria-hidden="true" focusable="false" class="chart">',
        f"<title>{escape(title)}</title>",
        STRIPES,
        f'<line x1="{LEFT}" y1="{base}" x2="{WIDTH - RIGHT}" y2="{base}" '
        f'stroke="#767676" stroke-width="1"/>',
        f'<text x="{LEFT - 4}" y="{TOP + 4}" text-anchor="end" font-size="10" class="y-label" '
        f'fill="#333">{top}</text>',
        f'<text x="{LEFT - 4}" y="{base}" text-anchor="end" font-size="10" class="y-label" '
        f'fill="#333">0</text>',
    ]
    for i, day in enumerate(span):
        x = LEFT + i * slot
        for offset, count, colour, label in (
            (0.0, accepted.get(day, 0), ACCEPTED, labels[0]),
            (bar + 1, sent.get(day, 0), SENT, labels[1]),
        ):
            height = plot_h * count / top
            parts.append(
                f'<rect x="{x + offset:.1f}" y="{base - height:.1f}" width="{bar:.1f}" '
                f'height="{height:.1f}" fill="{colour}" stroke="#12355b" stroke-width="0.5">'
                f"<title>{day.isoformat()}: "
                f"{escape(label)} {count}</title></rect>"
            )
    parts.append("</svg>")
    # The first and last day under the bars, and the legend: text at the page's own size.
    parts.append(
        f'<div class="chart-axis" aria-hidden="true"><span class="nowrap">{span[0].isoformat()}'
        f'</span><span class="nowrap">{span[-1].isoformat()}</span></div>'
    )
    parts.append('<ul class="chart-legend" aria-hidden="true">')
    for colour, label in ((ACCEPTED, labels[0]), (SENT, labels[1])):
        parts.append(
            f'<li><svg viewBox="0 0 10 10" width="12" height="12" focusable="false">'
            f'<rect width="10" height="10" fill="{colour}" stroke="#12355b" stroke-width="0.5"/>'
            f"</svg> {escape(label)}</li>"
        )
    parts.append("</ul>")
    # Every text that came from outside went through escape() above.
    return Markup("".join(parts))  # noqa: S704
