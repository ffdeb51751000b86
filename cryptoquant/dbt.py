"""Running dbt from its own virtual environment with the project's settings.

dbt lives in ``.venv-dbt`` because dbt-mysql's pins clash with Airflow's. Every call passes
the CQ_* settings through the environment, which ``profiles.yml`` reads with ``env_var()``.
The commands that run the project go to one long-lived dbt process per Python process
(``_dbt_worker.py``): a ``dbt`` command line spends 3-4 s importing dbt before it does
anything, paid once there instead of once per pipeline stage or live round.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

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


# Commands that run the project and end by themselves: these go to the worker; anything else
# (--help, --version, deps, clean, init, debug, docs serve) runs as its own command line.
WORKER_COMMANDS = {"build", "run", "test", "seed", "snapshot", "compile", "parse", "ls", "list",
                   "show", "run-operation", "source"}
# A fresh worker after this many commands, so a live loop running for days does not keep
# whatever dbt leaves behind in memory between commands.
WORKER_MAX_COMMANDS = 200


def run_dbt(settings: Settings, args: list[str], capture: bool = False) -> str:
    """Run ``dbt ARGS`` in the repository root; raises DbtFailed on a non-zero exit."""
    cmd = [dbt_executable(settings), *args]
    if args and not args[0].startswith("-") and args[0] not in {"deps", "clean", "init"}:
        cmd += ["--target", settings.dbt_target]
    logger.info("running %s", " ".join(cmd[1:]))
    if args and args[0] in WORKER_COMMANDS:
        rc, output = _WORKER.run(settings, cmd, capture)
    else:
        proc = subprocess.run(
            cmd, cwd=PROJECT_ROOT, env=dbt_env(settings), text=True,
            capture_output=capture,
        )
        rc, output = proc.returncode, proc.stdout or ""
    if rc != 0:
        tail = output[-4000:] if capture else "see the dbt output above"
        raise DbtFailed(f"dbt {' '.join(args)} failed (exit {rc}): {tail}")
    return output


class _Worker:
    """The client side of ``_dbt_worker.py``: started on first use, one command at a time,
    restarted when it died or ran WORKER_MAX_COMMANDS commands, ended at exit."""

    def __init__(self):
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._replies = None
        self._commands = 0
        self._owner = os.getpid()

    def _start(self, settings: Settings) -> None:
        python = Path(dbt_executable(settings)).with_name("python")
        read_fd, write_fd = os.pipe()
        try:
            self._proc = subprocess.Popen(
                [str(python), str(Path(__file__).with_name("_dbt_worker.py")), str(write_fd)],
                cwd=PROJECT_ROOT, env=dbt_env(settings), stdin=subprocess.PIPE,
                pass_fds=(write_fd,), text=True)
        finally:
            os.close(write_fd)
        self._replies = os.fdopen(read_fd, "r")
        self._commands = 0
        self._owner = os.getpid()

    def stop(self) -> None:
        if self._proc is not None and self._owner == os.getpid():
            with contextlib.suppress(BrokenPipeError):
                self._proc.stdin.close()  # the worker ends when its stdin closes
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._replies.close()
            self._proc = None

    def run(self, settings: Settings, cmd: list[str], capture: bool) -> tuple[int, str]:
        with self._lock:
            if self._owner != os.getpid():  # a forked child: the parent's worker is not ours
                self._proc = None
            if self._proc is None or self._proc.poll() is not None \
                    or self._commands >= WORKER_MAX_COMMANDS:
                self.stop()
                self._start(settings)
            output = None
            if capture:
                fd, output = tempfile.mkstemp(prefix="dbt-output-", suffix=".log")
                os.close(fd)
            try:
                sys.stdout.flush()
                request = {"args": cmd[1:], "env": dbt_env(settings), "cwd": str(PROJECT_ROOT),
                           "output": output}
                try:
                    self._proc.stdin.write(json.dumps(request) + "\n")
                    self._proc.stdin.flush()
                    line = self._replies.readline()
                except BrokenPipeError:
                    line = ""
                self._commands += 1
                text = Path(output).read_text(errors="replace") if output else ""
                if not line:  # the worker died mid-command
                    self.stop()
                    return 3, text + "\n(the dbt worker process ended unexpectedly)"
                return json.loads(line)["rc"], text
            finally:
                if output:
                    os.unlink(output)


_WORKER = _Worker()
atexit.register(_WORKER.stop)


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
