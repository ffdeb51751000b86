"""`cryptoquant serve` is wired into the CLI with its options and settings defaults."""

from __future__ import annotations

from click.testing import CliRunner

from cryptoquant.cli import main


def test_serve_help_lists_host_and_port():
    result = CliRunner().invoke(main, ["serve", "--help"])
    assert result.exit_code == 0
    assert "--host" in result.output and "--port" in result.output
    assert "CQ_API_PORT" in result.output


def test_serve_rejects_a_bad_port():
    result = CliRunner().invoke(main, ["serve", "--port", "70000"])
    assert result.exit_code == 2 and "70000" in result.output
