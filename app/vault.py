"""Secrets the service must keep readable (webhook signing secrets), encrypted at rest.

The keys live outside the database, in `BANKFEEDS_SECRET_KEYS` (Fernet keys, newest first):
the newest encrypts, every listed key decrypts (MultiFernet), so a key is rotated by putting a
new one in front and dropping the old one once `bankfeeds migrate` or new writes no longer need
it. Stored values carry a `fernet:` prefix. With no key configured, values are stored as they
are (the embedded default needs no set-up; docs/SECURITY.md says what that means), and a stored
`fernet:` value then cannot be read: an error, never a wrong secret.
"""

from __future__ import annotations

import logging
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy.engine import Dialect
from sqlalchemy.types import Text, TypeDecorator

from app.config import Settings, get_settings

log = logging.getLogger("app.vault")
PREFIX = "fernet:"
_keys: list[MultiFernet | None] = []


class SecretUnreadable(RuntimeError):
    """Encrypted under no key we hold (or BANKFEEDS_SECRET_KEYS is unset)."""


def keyring(settings: Settings) -> MultiFernet | None:
    keys = settings.secret_key_list
    return MultiFernet([Fernet(k) for k in keys]) if keys else None


def configure(settings: Settings) -> None:
    """Called at start-up by the API and the worker (and by migrations) with their settings."""
    _keys[:] = [keyring(settings)]


def _current() -> MultiFernet | None:
    if not _keys:
        configure(get_settings())
    return _keys[0]


def seal(value: str, fernet: MultiFernet | None = None) -> str:
    fernet = fernet or _current()
    if fernet is None or value.startswith(PREFIX):
        return value
    return PREFIX + fernet.encrypt(value.encode()).decode()


def unseal(stored: str, fernet: MultiFernet | None = None) -> str:
    if not stored.startswith(PREFIX):
        return stored
    fernet = fernet or _current()
    if fernet is None:
        raise SecretUnreadable("a stored secret is encrypted but BANKFEEDS_SECRET_KEYS is not set")
    try:
        return fernet.decrypt(stored[len(PREFIX) :].encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable("a stored secret is encrypted under none of the keys") from exc


def reveal(stored: str | None) -> str | None:
    """`unseal` for a nullable column (account numbers): only where an answer needs it."""
    return None if stored is None else unseal(stored)


def reseal(stored: str, settings: Settings) -> str:
    """The value sealed under `settings`' newest key (a clear one sealed; one already under the
    newest key as it is): what a key rotation writes. Raises SecretUnreadable when it is sealed
    under none of the keys held."""
    keys = settings.secret_key_list
    if not keys:
        return stored
    fernet = MultiFernet([Fernet(k) for k in keys])
    if not stored.startswith(PREFIX):
        return seal(stored, fernet)
    token = stored[len(PREFIX) :].encode()
    try:
        Fernet(keys[0]).decrypt(token)
        return stored
    except InvalidToken:
        pass
    try:
        return PREFIX + fernet.rotate(token).decode()
    except InvalidToken as exc:
        raise SecretUnreadable("a stored secret is encrypted under none of the keys") from exc


class Sealed(TypeDecorator[str]):
    """A text column whose values are sealed on the way in and read back as stored: `unseal`
    them where they are used (signing), so a row whose key is gone can still be loaded, listed
    and deleted."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else seal(str(value))

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else str(value)
