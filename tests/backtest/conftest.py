"""Fixtures of the backtest tests: isolated warehouses with hand-made inputs, built by dbt."""

from __future__ import annotations

import pytest

from tests.backtest import cases, inputs


@pytest.fixture(scope="session")
def rules_warehouse(make_settings):
    """Settings of a warehouse holding the rule cases (tests/backtest/cases.py), backtested."""
    settings = make_settings("bt_rules")
    inputs.create_tables(settings)
    inputs.write_cases(settings, cases.RULE_CASES + cases.PENDING_CASES)
    inputs.build_backtest(settings)
    return settings
