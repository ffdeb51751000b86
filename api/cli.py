"""`cryptoquant serve`: the API and dashboard under waitress."""

from __future__ import annotations

import logging

import click

from cryptoquant.config import Settings

logger = logging.getLogger(__name__)


@click.command()
@click.option("--host", default=None, help="Bind address (default: CQ_API_HOST).")
@click.option("--port", default=None, type=click.IntRange(1, 65535),
              help="Port (default: CQ_API_PORT).")
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 64),
              help="Waitress worker threads.")
@click.option("--cache-seconds", default=10.0, show_default=True, type=click.FloatRange(0, 3600),
              help="Keep successful API answers this long in memory (0: off); a pipeline step or live "
                   "round finishing clears them sooner (checked every second).")
@click.pass_obj
def serve(settings: Settings, host: str | None, port: int | None, threads: int,
          cache_seconds: float) -> None:
    """Serve the JSON API and the dashboard (read-only warehouse user)."""
    import waitress

    from api import create_app

    host = host or settings.api_host
    port = port or settings.api_port
    app = create_app({"CQ_SETTINGS": settings, "RESPONSE_CACHE_SECONDS": cache_seconds})
    shown = "localhost" if host in {"0.0.0.0", "127.0.0.1"} else host
    click.echo(f"cryptoquant dashboard: http://{shown}:{port}/  (API: /api/, /openapi.json)")
    waitress.serve(app, host=host, port=port, threads=threads, ident="cryptoquant")
