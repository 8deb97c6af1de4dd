"""Where a running `bankfeeds dev` is recorded, so that later commands find the same data
directory (and, while it runs, its URL and embedded Redis) instead of silently using another
database, and a second `dev` is refused before it touches the first one's files.

Three records, the same content: `.bankfeeds-dev.json` in the folder dev was started from,
`instance.json` in its data dir (found by `--data-dir DIR` from any folder), and one file per
running dev in the user's state directory (so a command run from the wrong folder can say where
the running instance is)."""

from __future__ import annotations

import json
import os
import socket
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from app.config import Settings

MARKER = Path(".bankfeeds-dev.json")
IN_DATA_DIR = "instance.json"


@dataclass(frozen=True)
class Instance:
    data_dir: Path
    url: str | None = None
    redis_url: str | None = None
    pid: int | None = None
    folder: Path | None = None  # where dev was started (its marker)

    @property
    def running(self) -> bool:
        """Whether the `dev` process that wrote the record is still alive."""
        if self.pid is None:
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # alive, someone else's
            return True
        return True

    def where(self) -> str:
        """For people: `http://... (pid N), started in FOLDER, data dir DIR`."""
        parts = [f"{self.url or 'not serving'} (pid {self.pid})"]
        if self.folder is not None:
            parts.append(f"started in {self.folder}")
        parts.append(f"data dir {self.data_dir}")
        return ", ".join(parts)


def read(marker: Path = MARKER) -> Instance | None:
    try:
        raw = json.loads(marker.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("data_dir"), str):
        return None
    pid = raw.get("pid")
    folder = raw.get("folder")
    return Instance(
        data_dir=Path(raw["data_dir"]),
        url=raw.get("url"),
        redis_url=raw.get("redis_url"),
        pid=pid if isinstance(pid, int) else None,
        folder=Path(folder) if isinstance(folder, str) else None,
    )


def write(instance: Instance, marker: Path = MARKER) -> None:
    data = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(instance).items()}
    marker.write_text(json.dumps(data, indent=2) + "\n")


def running(marker: Path = MARKER) -> Instance | None:
    found = read(marker)
    return found if found is not None and found.running else None


def state_dir() -> Path:
    """The user's records of running dev instances (XDG_STATE_HOME, else ~/.local/state)."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "bankfeeds"


def announce(found: Instance, folder: Path) -> None:
    """Record a starting dev in its folder, its data dir and the user's state directory."""
    write(found, folder / MARKER)
    write(found, found.data_dir / IN_DATA_DIR)
    try:
        state_dir().mkdir(parents=True, exist_ok=True)
        write(found, state_dir() / f"dev-{found.pid}.json")
    except OSError:  # a read-only home: the two other records still say it
        pass


def retire(found: Instance, folder: Path) -> None:
    """dev stops: its records keep only the data dir, and only where they are still its own
    (a record another instance wrote since is left alone)."""
    for marker in (folder / MARKER, found.data_dir / IN_DATA_DIR):
        current = read(marker)
        if current is not None and current.pid == found.pid:
            write(Instance(found.data_dir), marker)
    (state_dir() / f"dev-{found.pid}.json").unlink(missing_ok=True)


def serving(data_dir: Path, folder: Path = Path()) -> Instance | None:
    """The running dev that uses data_dir: recorded in the data dir, or in this folder."""
    data_dir = data_dir.resolve()
    for marker in (data_dir / IN_DATA_DIR, folder / MARKER):
        found = running(marker)
        if found is not None and found.data_dir.resolve() == data_dir:
            return found
    return None


def all_running() -> list[Instance]:
    """Every running dev this user recorded, wherever it was started."""
    try:
        records = sorted(state_dir().glob("dev-*.json"))
    except OSError:
        return []
    return [found for path in records if (found := running(path)) is not None]


def port_taken(host: str, port: int) -> bool:
    """Whether host:port cannot be bound now (as uvicorn will try to, with SO_REUSEADDR)."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError:
        return True
    return False


def sqlite_file(settings: Settings) -> Path:
    """The SQLite file the settings use: the data dir's, or the one DATABASE_URL names."""
    return Path(make_url(settings.effective_database_url).database or "").resolve()


def describe_database(settings: Settings) -> str:
    """Where the data lives, for people: the SQLite file, or the URL without its password."""
    if settings.is_sqlite:
        return f"SQLite at {sqlite_file(settings)}"
    url = make_url(settings.effective_database_url).render_as_string(hide_password=True)
    return url + (f" (schema {settings.db_schema})" if settings.db_schema else "")
