"""The `bankfeeds` command: run the service, migrate, and manage tenants and their keys.

One module per command group (serve, tenants, jobs, doctor, ...), added to `main` here
explicitly. The development commands (`demo`, `sandbox`) live in app/devtools/, which production
code never imports: they are found through the `bankfeeds.commands` entry points. `main` reads the
Settings once and hands them down in click's context (ctx.obj); no command writes the
environment to pass them on."""

from __future__ import annotations

import sys
from importlib.metadata import entry_points
from pathlib import Path

import click

from app.cli import certificates, companies, doctor, jobs, secrets, serve, tenants
from app.cli.common import data_dir_after, data_dir_option, load_settings


@click.group()
@data_dir_option
@click.pass_context
def main(ctx: click.Context, data_dir: Path | None) -> None:
    """Bank-feeds connector: a Codat-compatible Bank Feeds API for QuickBooks Online."""
    ctx.obj = load_settings(data_dir)


for command in (
    serve.dev,
    serve.serve,
    serve.migrate_command,
    serve.worker,
    tenants.tenants_group,
    companies.companies_group,
    secrets.secrets_group,
    jobs.jobs_group,
    certificates.certificates_group,
    doctor.doctor,
):
    main.add_command(command)
for plugin in entry_points(group="bankfeeds.commands"):
    main.add_command(plugin.load(), plugin.name)


def _accept_data_dir_everywhere(group: click.Group) -> None:
    """`bankfeeds tenants create X --data-dir D` works as `bankfeeds --data-dir D tenants ...`."""
    for command in group.commands.values():
        if isinstance(command, click.Group):
            _accept_data_dir_everywhere(command)
        elif not any(p.name == "data_dir" for p in command.params):
            command.params.append(
                click.Option(
                    ["--data-dir"],
                    type=click.Path(file_okay=False, path_type=Path),
                    expose_value=False,
                    is_eager=True,
                    callback=data_dir_after,
                    help="As `bankfeeds --data-dir`, accepted here too.",
                )
            )


_accept_data_dir_everywhere(main)

if __name__ == "__main__":
    sys.exit(main())
