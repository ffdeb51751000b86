"""`cryptoquant db` and `cryptoquant config`: provisioning and inspecting settings."""

from __future__ import annotations

import json

import click

from cryptoquant import db as dbmod
from cryptoquant.config import Settings, describe


@click.group()
def db() -> None:
    """Database provisioning for an existing (remote) MySQL/MariaDB server."""


@db.command("init")
@click.pass_obj
def db_init(settings: Settings) -> None:
    """Create the databases, users and landing tables (needs CQ_MYSQL_ADMIN_*)."""
    dbmod.provision(settings)
    click.echo(
        f"provisioned {settings.mysql_staging_database} and {settings.mysql_warehouse_database} "
        f"on {settings.mysql_host}:{settings.mysql_port}"
    )


@click.group("config")
def config_command() -> None:
    """Show the configuration in effect."""


@config_command.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
def config_show(settings: Settings, as_json: bool) -> None:
    """Print every CQ_* setting with its value in effect (passwords masked)."""
    values = settings.as_env()
    masked = {k: ("***" if "PASSWORD" in k and v else v) for k, v in values.items()}
    if as_json:
        click.echo(json.dumps(masked, indent=2))
        return
    helps = {name: text for name, _default, text in describe()}
    for key, value in masked.items():
        click.echo(f"{key:32} {value:40} {helps[key]}")
