"""Settings: defaults, overrides, .env files and clear errors."""

from __future__ import annotations

import pytest

from cryptoquant.config import ConfigError, Settings, describe, load_settings


def test_defaults_without_environment(tmp_path):
    s = load_settings(env={}, env_file=tmp_path / "absent.env")
    assert s == Settings()
    assert s.mysql_port == 3407
    assert s.symbol_list == ["BTCUSDT", "ETHUSDT", "BNBUSDT"]
    assert s.kafka_managed is True


def test_environment_overrides_and_types(tmp_path):
    s = load_settings(
        env={"CQ_MYSQL_PORT": "3306", "CQ_KAFKA_MANAGED": "false", "CQ_SYMBOLS": "btcusdt, ethusdt"},
        env_file=tmp_path / "absent.env",
    )
    assert s.mysql_port == 3306
    assert s.kafka_managed is False
    assert s.symbol_list == ["BTCUSDT", "ETHUSDT"]


def test_env_file_is_read_and_environment_wins(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("CQ_MYSQL_HOST=db.internal\nCQ_MYSQL_PORT=3310\n")
    s = load_settings(env={"CQ_MYSQL_PORT": "3311"}, env_file=env_file)
    assert s.mysql_host == "db.internal"
    assert s.mysql_port == 3311


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CQ_MYSQL_PORT": "abc"}, "CQ_MYSQL_PORT='abc' (environment): expected a whole number"),
        ({"CQ_API_PORT": "70000"}, "a port must be between 1 and 65535"),
        ({"CQ_KAFKA_MANAGED": "maybe"}, "expected true or false"),
        ({"CQ_MYSQL_PROT": "3306"}, "unknown setting 'CQ_MYSQL_PROT' in the environment"),
        ({"CQ_LOG_LEVEL": "LOUD"}, "expected DEBUG/INFO/WARNING/ERROR"),
    ],
)
def test_invalid_values_are_named(tmp_path, env, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_settings(env=env, env_file=tmp_path / "absent.env")


def test_unknown_name_in_env_file_is_an_error(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("CQ_MYSQL_HOST=x\nMYSQL_PASSWORD=secret\n")
    with pytest.raises(ConfigError, match=r"unknown setting 'MYSQL_PASSWORD' in .*\.env"):
        load_settings(env={}, env_file=env_file)


def test_as_env_round_trips(tmp_path):
    s = Settings(mysql_port=3999, kafka_managed=False)
    again = load_settings(env=s.as_env(), env_file=tmp_path / "absent.env")
    assert again == s


def test_every_setting_is_documented_in_the_readme():
    from cryptoquant.config import PROJECT_ROOT

    readme = (PROJECT_ROOT / "README.md").read_text()
    missing = [name for name, _default, _help in describe() if f"`{name}`" not in readme]
    assert missing == []


def test_cli_reports_bad_configuration(monkeypatch):
    from click.testing import CliRunner

    from cryptoquant.cli import main

    monkeypatch.setenv("CQ_MYSQL_PORT", "not-a-port")
    result = CliRunner().invoke(main, ["config", "show"])
    assert result.exit_code == 2
    assert "configuration error: CQ_MYSQL_PORT='not-a-port'" in result.output
