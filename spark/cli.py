"""`cryptoquant spark ...` (Spark jobs against the warehouse) and `cryptoquant indicators`
(research mode on a CSV file, no warehouse).

Other Spark jobs add their subcommand to the ``spark`` group: ``spark.fpgrowth.cli:fpgrowth``
is picked up here when that module exists.
"""

from __future__ import annotations

import json

import click

from cryptoquant.config import Settings


@click.group()
def spark() -> None:
    """Spark jobs: technical indicators and FP-Growth patterns."""


@spark.command("indicators")
@click.option("--full-refresh", is_flag=True,
              help="Recompute every series from its first candle (default: only new candles "
                   "plus a warm-up).")
@click.option("--symbol", "symbols", multiple=True,
              help="Only this symbol (repeatable); default: every symbol in fact_kline.")
@click.pass_obj
def spark_indicators(settings: Settings, full_refresh: bool, symbols: tuple[str, ...]) -> None:
    """Compute the configured indicators (warehouse table indicator_types) from fact_kline
    into staging.indicator_values. Exits 1 if any series failed (the others are written)."""
    from spark.indicators.job import run_indicators

    summary = run_indicators(settings, full_refresh=full_refresh, symbols=list(symbols) or None)
    click.echo(json.dumps(summary, indent=2, default=str))
    if summary["failed"]:
        raise SystemExit(1)


@click.command("indicators")
@click.option("--csv", "in_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Binance kline CSV (OHLCV export or data.binance.vision layout; .gz ok).")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False),
              help="Output CSV: one row per input candle, in input order.")
@click.option("--symbol", default=None, help="Symbol, when the file does not say.")
@click.option("--interval", default=None, help="Interval such as 1h, when the file does not say.")
@click.option("--config", "config_path", default=None, type=click.Path(exists=True),
              help="Indicator configuration CSV (default: the indicator_types seed).")
@click.option("--all-indicators", is_flag=True,
              help="Append every other configured indicator after the standard columns.")
def indicators_csv(in_path: str, out_path: str, symbol: str | None, interval: str | None,
                   config_path: str | None, all_indicators: bool) -> None:
    """Research mode: indicators for a kline CSV file, without the warehouse.

    Columns: open_time (UTC ISO 8601), open, high, low, close, volume, rsi_14, ema_12, ema_26,
    ema_50, ema_200, macd, macd_signal, macd_hist, bb_upper, bb_middle, bb_lower, adx_14,
    atr_14, obv, vwap; empty where undefined. Gaps are computed through as-is (listed on
    stderr).
    """
    from spark.indicators.config import SEED_CSV
    from spark.indicators.research import ResearchError, run_csv

    try:
        summary = run_csv(in_path, out_path, symbol, interval, config_path or SEED_CSV,
                          all_indicators)
    except (ResearchError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"wrote {summary['rows']} rows to {out_path}", err=True)
    if summary["rejected_rows"]:
        click.echo(f"skipped {summary['rejected_rows']} unreadable input rows", err=True)
    if summary["gaps"]:
        click.echo(f"{len(summary['gaps'])} gap(s) in the candles, computed through as-is "
                   "(no filling): " + "; ".join(summary["gaps"]), err=True)


def _add_optional(module: str, attr: str) -> None:
    import importlib

    try:
        command = getattr(importlib.import_module(module), attr)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
        return
    spark.add_command(command)


_add_optional("spark.fpgrowth.cli", "fpgrowth")
