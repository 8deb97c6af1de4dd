"""Images tenants upload (the Link logo): decoded with Pillow, bounded in pixels, re-encoded.

Checking the first bytes proves nothing about the rest: a file can start like a PNG and carry
a script, a polyglot or a decompression bomb. What we store and serve is Pillow's own encoding
of the decoded pixels, without the upload's metadata (EXIF, text chunks).
"""

from __future__ import annotations

import warnings
from io import BytesIO

from PIL import Image, UnidentifiedImageError

MEDIA_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg"}


class NotAnImage(ValueError):
    """The bytes do not decode as a PNG or JPEG."""


class TooManyPixels(ValueError):
    """Wider or taller than allowed."""


class BadShape(ValueError):
    """So wide or so tall that, fitted to the page's header, it would be a sliver."""


# A logo is shown in a header a few dozen pixels tall: past these it becomes unrecognisable.
MAX_WIDE, MAX_TALL = 5, 2


def reencode(content: bytes, max_side: int) -> tuple[bytes, str]:
    """(the re-encoded bytes, their media type); the size is read before any pixel is."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(BytesIO(content), formats=list(MEDIA_TYPES)) as image:
                kind = str(image.format)
                width, height = image.size
                if width > max_side or height > max_side:
                    raise TooManyPixels(
                        f"The logo is {width} x {height} pixels; at most {max_side} x {max_side}."
                    )
                if width > MAX_WIDE * height or height > MAX_TALL * width:
                    raise BadShape(
                        f"The logo is {width} x {height} pixels: at most {MAX_WIDE} times wider "
                        f"than tall and {MAX_TALL} times taller than wide, so that it stays "
                        "recognisable in the page's header."
                    )
                image.load()
                out = BytesIO()
                if kind == "PNG":
                    image.save(out, "PNG")
                else:
                    pixels = image if image.mode in ("RGB", "L", "CMYK") else image.convert("RGB")
                    pixels.save(out, "JPEG", quality=90)
    except (TooManyPixels, BadShape):
        raise
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
        OSError,
        SyntaxError,
        ValueError,
    ) as exc:
        raise NotAnImage("The logo must be a PNG or JPEG image that decodes.") from exc
    return out.getvalue(), MEDIA_TYPES[kind]
