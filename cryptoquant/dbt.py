"""Running dbt from its own virtual environment with the project's settings.

dbt lives in ``.venv-dbt`` because dbt-mysql's pins clash with Airflow's. Every call passes
the CQ_* settings through the environment, which ``profiles.yml`` reads with ``env_var()``.
"""

from __future__ import annotations

import logging
import os
import subprocess

import click

from cryptoquant.config import PROJECT_ROOT, Settings

logger = logging.getLogger(__name__)


class DbtFailed(RuntimeError):
    pass


def dbt_executable(settings: Settings) -> str:
    exe = settings.path(settings.dbt_venv) / "bin" / "dbt"
    if not exe.exists():
        raise DbtFailed(f"dbt not found at {exe}; run `make setup` to create the dbt venv")
    return str(exe)


def dbt_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(settings.as_env())
    env.setdefault("DBT_PROFILES_DIR", str(PROJECT_ROOT))
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    return env


def run_dbt(settings: Settings, args: list[str], capture: bool = False) -> str:
    """Run ``dbt ARGS`` in the repository root; raises DbtFailed on a non-zero exit."""
    cmd = [dbt_executable(settings), *args]
    if args and not args[0].startswith("-") and args[0] not in {"deps", "clean", "init"}:
        cmd += ["--target", settings.dbt_target]
    logger.info("running %s", " ".join(cmd[1:]))
    proc = subprocess.run(
        cmd, cwd=PROJECT_ROOT, env=dbt_env(settings), text=True,
        capture_output=capture,
    )
    if proc.returncode != 0:
        tail = (proc.stdout or "")[-4000:] if capture else "see the dbt output above"
        raise DbtFailed(f"dbt {' '.join(args)} failed (exit {proc.returncode}): {tail}")
    return proc.stdout or ""


# The pipeline's dbt stages: step name -> (tag, exclude).
STAGES = {
    "dbt_base": ("base", None),
    "dbt_marts": ("marts", "tag:base"),  # the base stage is built by dbt_base
    "dbt_patterns": ("patterns", None),
}


def stage_args(step: str) -> list[str]:
    """The `dbt build` arguments of one pipeline stage (also used by bench.bench_dbt)."""
    tag, exclude = STAGES[step]
    # "buildable": a test runs in the stage where all its parents exist (a relationships test
    # from fact_indicator to dim_symbol runs with fact_indicator, not before it).
    args = ["build", "--select", f"tag:{tag}", "--indirect-selection", "buildable"]
    if exclude:
        args += ["--exclude", exclude]
    return args


def build_stage(settings: Settings, step: str) -> dict:
    run_dbt(settings, stage_args(step))
    return {"dbt_select": f"tag:{STAGES[step][0]}"}


def build_base(settings: Settings) -> dict:
    return build_stage(settings, "dbt_base")


def build_marts(settings: Settings) -> dict:
    return build_stage(settings, "dbt_marts")


def build_patterns(settings: Settings) -> dict:
    return build_stage(settings, "dbt_patterns")


@click.command("dbt", context_settings={"ignore_unknown_options": True,
                                        "allow_extra_args": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_obj
def dbt_command(settings: Settings, args: tuple[str, ...]) -> None:
    """Run dbt (from .venv-dbt) with the project's settings, e.g. `cryptoquant dbt build`."""
    try:
        run_dbt(settings, list(args) or ["--help"])
    except DbtFailed as exc:
        raise click.ClickException(str(exc)) from exc
