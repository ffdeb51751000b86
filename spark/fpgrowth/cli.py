"""`cryptoquant spark fpgrowth`: mine WIN patterns from the warehouse's closed trades."""

from __future__ import annotations

import json

import click

from cryptoquant.config import Settings


@click.command("fpgrowth")
@click.option("--min-support", type=click.FloatRange(0, 1, min_open=True), default=None,
              help="Minimum support of an itemset (default: seed fp_growth_parameters, 0.05).")
@click.option("--min-confidence", type=click.FloatRange(0, 1), default=None,
              help="Minimum win rate of a stored rule (default: seed, 0.0).")
@click.option("--fdr-alpha", type=click.FloatRange(0, 1, min_open=True, max_open=True),
              default=None, help="False discovery rate for is_significant (default: 0.05).")
@click.option("--max-antecedent-size", type=click.IntRange(1), default=None,
              help="Most condition items in a rule (default: seed, 3).")
@click.pass_obj
def fpgrowth(settings: Settings, min_support, min_confidence, fdr_alpha,
             max_antecedent_size) -> None:
    """Spark ML FP-Growth over closed trades: WIN itemsets and rules with significance."""
    from spark.fpgrowth.job import run_step

    summary = run_step(settings, min_support=min_support, min_confidence=min_confidence,
                       fdr_alpha=fdr_alpha, max_antecedent_size=max_antecedent_size)
    click.echo(json.dumps(summary, indent=2))
