"""`cryptoquant stack up | down | status`."""

from __future__ import annotations

import json

import click

from cryptoquant.config import Settings
from cryptoquant.stack import manager
from cryptoquant.stack._proc import StackError


@click.group()
def stack() -> None:
    """Manage the local stack (MariaDB + Kafka) under CQ_STACK_DIR."""


@stack.command()
@click.pass_obj
def up(settings: Settings) -> None:
    """Start MariaDB and Kafka (installing them on first use); a no-op when already up."""
    try:
        started = manager.up(settings)
    except StackError as exc:
        raise click.ClickException(str(exc)) from exc
    for name, was_started in started.items():
        click.echo(f"{name}: {'started' if was_started else 'already running / external'}")
    _print_status(manager.status(settings))


@stack.command()
@click.pass_obj
def down(settings: Settings) -> None:
    """Stop what `stack up` started (by PID); data stays in CQ_STACK_DIR."""
    stopped = manager.down(settings)
    for name, was_stopped in stopped.items():
        click.echo(f"{name}: {'stopped' if was_stopped else 'was not running'}")


@stack.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object for scripts.")
@click.pass_obj
def status(settings: Settings, as_json: bool) -> None:
    """Say what runs and how to connect."""
    info = manager.status(settings)
    if as_json:
        click.echo(json.dumps(info, indent=2))
    else:
        _print_status(info)


def _print_status(info: dict) -> None:
    m, k, s = info["mysql"], info["kafka"], info["spark"]
    state = {True: "running", False: "stopped"}
    click.echo(f"mysql  {state[m['running']]:8} {m['host']}:{m['port']} user={m['user']} "
               f"staging={m['staging_database']} warehouse={m['warehouse_database']}")
    click.echo(f"kafka  {state[k['running']]:8} {k['bootstrap_servers']}")
    click.echo(f"spark  {'ready' if s['running'] else 'missing':8} master={s['master']} "
               f"pyspark={s['pyspark']} java={s['java']}")
