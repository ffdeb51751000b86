"""The `cryptoquant` command line: one entry point for every layer.

Subcommand groups live beside the code they drive (``loaders/cli.py``, ``spark/cli.py``, ...)
and are imported only when used, so ``cryptoquant stack status`` does not pay for PySpark.
"""

from __future__ import annotations

import importlib
import logging
import sys

import click

from cryptoquant.config import ConfigError, load_settings

# name -> "module:attribute" of a click command or group.
SUBCOMMANDS = {
    "stack": "cryptoquant.stack.cli:stack",
    "db": "cryptoquant.cli_db:db",
    "ingest": "loaders.cli:ingest",
    "consume": "loaders.cli:consume",
    "spark": "spark.cli:spark",
    "indicators": "spark.cli:indicators_csv",
    "dbt": "cryptoquant.dbt:dbt_command",
    "pipeline": "cryptoquant.pipeline:pipeline",
    "serve": "api.cli:serve",
    "config": "cryptoquant.cli_db:config_command",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx, name):
        target = SUBCOMMANDS.get(name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        module = importlib.import_module(module_name)
        return getattr(module, attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log at DEBUG level.")
@click.pass_context
def main(ctx: click.Context, verbose: bool) -> None:
    """cryptoquant: crypto market ELT warehouse and quant research platform.

    Configuration comes from CQ_* environment variables and an optional .env file
    (`cryptoquant config show` lists them all).
    """
    try:
        settings = load_settings()
    except ConfigError as exc:
        raise click.UsageError(f"configuration error: {exc}") from exc
    logging.basicConfig(
        level="DEBUG" if verbose else settings.log_level.upper(),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    ctx.obj = settings


if __name__ == "__main__":  # pragma: no cover
    main()
