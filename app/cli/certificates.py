"""`bankfeeds certificates verify FILE`: an export of balance certificates checked offline."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from app.certificates import verify


@click.group("certificates")
def certificates_group() -> None:
    """Balance certificates (docs/CERTIFICATES.md)."""


@certificates_group.command("verify")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def verify_command(file: Path) -> None:
    """Re-compute every digest and the chain of an export (JSON or CSV); exit 1 on a mismatch."""
    try:
        certificates = verify.read(file.read_text(encoding="utf-8"))
        problems = verify.verify(certificates)
    except (ValueError, KeyError, TypeError) as exc:
        click.echo(f"{file}: not a certificates export ({type(exc).__name__}: {exc})", err=True)
        sys.exit(2)
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        click.echo(
            f"{file}: FAILED, {len(problems)} problem(s) in {len(certificates)} certificates"
        )
        sys.exit(1)
    click.echo(f"{file}: OK, {len(certificates)} certificates, chain intact")
