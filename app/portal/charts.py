"""Server-drawn SVG charts: no third-party script, nothing the strict CSP would have to allow.

Colours are SVG presentation attributes, not style attributes, so `style-src 'self'` holds.
The two series differ by more than colour (WCAG 1.4.1): accepted bars are solid, sent bars
striped, in the bars and in the legend alike; the page shows the numbers as a table on demand.
"""

from __future__ import annotations

from datetime import date, timedelta

from markupsafe import Markup, escape

WIDTH, HEIGHT, PAD = 600, 160, 24
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
    plot_w, plot_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD
    slot = plot_w / days
    bar = max(slot / 2 - 1, 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        # Hidden from screen readers: the page gives them the same numbers as a table.
        f'aria-hidden="true" focusable="false" class="chart">',
        f"<title>{escape(title)}</title>",
        STRIPES,
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" '
        f'stroke="#767676" stroke-width="1"/>',
        f'<text x="{PAD - 4}" y="{PAD + 4}" text-anchor="end" font-size="10" '
        f'fill="#333">{top}</text>',
        f'<text x="{PAD - 4}" y="{HEIGHT - PAD}" text-anchor="end" font-size="10" '
        f'fill="#333">0</text>',
    ]
    for i, day in enumerate(span):
        x = PAD + i * slot
        for offset, count, colour, label in (
            (0.0, accepted.get(day, 0), ACCEPTED, labels[0]),
            (bar + 1, sent.get(day, 0), SENT, labels[1]),
        ):
            height = plot_h * count / top
            parts.append(
                f'<rect x="{x + offset:.1f}" y="{HEIGHT - PAD - height:.1f}" width="{bar:.1f}" '
                f'height="{height:.1f}" fill="{colour}" stroke="#12355b" stroke-width="0.5">'
                f"<title>{day.isoformat()}: "
                f"{escape(label)} {count}</title></rect>"
            )
    for i, day in ((0, span[0]), (days - 1, span[-1])):
        anchor = "start" if i == 0 else "end"
        x = PAD if i == 0 else WIDTH - PAD
        parts.append(
            f'<text x="{x}" y="{HEIGHT - 6}" text-anchor="{anchor}" font-size="10" '
            f'fill="#333">{day.isoformat()}</text>'
        )
    for i, (colour, label) in enumerate(((ACCEPTED, labels[0]), (SENT, labels[1]))):
        x = WIDTH / 2 - 90 + i * 110
        parts.append(
            f'<rect x="{x}" y="{HEIGHT - 16}" width="10" height="10" fill="{colour}" '
            f'stroke="#12355b" stroke-width="0.5"/>'
        )
        parts.append(
            f'<text x="{x + 14}" y="{HEIGHT - 7}" font-size="10" fill="#333">{escape(label)}</text>'
        )
    parts.append("</svg>")
    # Every text that came from outside went through escape() above.
    return Markup("".join(parts))  # noqa: S704
