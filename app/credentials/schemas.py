"""Credential wire shapes (Codat's BankAccountCredentials)."""

from __future__ import annotations

from pydantic import ConfigDict

from app.kit.schemas import Wire


class BankAccountCredentials(Wire):
    model_config = ConfigDict(title="Bank Account Credentials")

    username: str
    password: str
