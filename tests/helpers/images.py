"""Real images for logo tests: the service decodes every logo, so header-only bytes are refused."""

from __future__ import annotations

import secrets
from io import BytesIO

from PIL import Image


def image(kind: str = "PNG", width: int = 16, height: int = 16, **save: object) -> bytes:
    """A small image of one random colour, so two calls almost never give the same bytes."""
    colour = tuple(secrets.token_bytes(3))
    out = BytesIO()
    Image.new("RGB", (width, height), colour).save(out, kind, **save)  # type: ignore[arg-type]
    return out.getvalue()


def png(width: int = 16, height: int = 16) -> bytes:
    return image("PNG", width, height)


def jpeg(width: int = 16, height: int = 16) -> bytes:
    return image("JPEG", width, height)
