"""The marker `bankfeeds dev` leaves in its working directory, so that later commands run there
find the same data directory (and, while it runs, its URL and embedded Redis) instead of
silently using another database."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from app.config import Settings

MARKER = Path(".bankfeeds-dev.json")


@dataclass(frozen=True)
class Instance:
    data_dir: Path
    url: str | None = None
    redis_url: str | None = None
    pid: int | None = None

    @property
    def running(self) -> bool:
        """Whether the `dev` process that wrote the marker is still alive."""
        if self.pid is None:
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # alive, someone else's
            return True
        return True


def read(marker: Path = MARKER) -> Instance | None:
    try:
        raw = json.loads(marker.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("data_dir"), str):
        return None
    return Instance(
        data_dir=Path(raw["data_dir"]),
        url=raw.get("url"),
        redis_url=raw.get("redis_url"),
        pid=raw.get("pid"),
    )


def write(instance: Instance, marker: Path = MARKER) -> None:
    data = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(instance).items()}
    marker.write_text(json.dumps(data, indent=2) + "\n")


def running(marker: Path = MARKER) -> Instance | None:
    found = read(marker)
    return found if found is not None and found.running else None


def describe_database(settings: Settings) -> str:
    """Where the data lives, for people: the SQLite file, or the URL without its password."""
    if settings.is_sqlite:
        return f"SQLite at {(settings.data_dir / 'bankfeeds.db').resolve()}"
    url = make_url(settings.effective_database_url).render_as_string(hide_password=True)
    return url + (f" (schema {settings.db_schema})" if settings.db_schema else "")
