"""WCAG 2.x relative luminance and contrast ratio, for ink on a tenant's accent colour.

Black or white ink is chosen by whichever contrasts more with the accent (never by a luma
threshold), so every accent gets at least 4.58:1 text; an accent under 3:1 against the white
page is "light" and its buttons get an ink-coloured border (WCAG 1.4.11).
"""

from __future__ import annotations

BLACK, WHITE = "#000000", "#ffffff"
TEXT_MINIMUM = 4.5  # WCAG 1.4.3, normal text
EDGE_MINIMUM = 3.0  # WCAG 1.4.11, a control's boundary


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def luminance(color: str) -> float:
    """The relative luminance of #RRGGBB, 0 (black) to 1 (white)."""
    red, green, blue = (_channel(int(color[i : i + 2], 16)) for i in (1, 3, 5))
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def ratio(first: str, second: str) -> float:
    """The contrast ratio of two #RRGGBB colours, 1 to 21."""
    high, low = sorted((luminance(first), luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def ink_on(color: str) -> str:
    """Black or white, whichever has the higher contrast ratio on `color`."""
    return BLACK if ratio(color, BLACK) >= ratio(color, WHITE) else WHITE
