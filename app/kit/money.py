"""The canonical text of an amount, wherever one is written into a message, a digest or a CSV."""

from __future__ import annotations

from decimal import Decimal


def amount_text(value: Decimal | None) -> str | None:
    """Plain notation, exactly two places ("-12.50"); None stays None."""
    if value is None:
        return None
    text = f"{value.quantize(Decimal('0.01')):f}"
    return "0.00" if text == "-0.00" else text
