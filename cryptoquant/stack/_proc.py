"""Small process helpers: PID files, port checks, waiting without sleeping blindly."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path


class StackError(RuntimeError):
    """The stack could not be started or checked; the message says what to do."""


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def pid_alive(pid: int | None, marker: str | None = None) -> bool:
    """True when the PID runs and (if given) its command line mentions ``marker``,
    so a recycled PID of somebody else's process is never mistaken for ours."""
    if not pid:
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except FileNotFoundError:
        return False
    try:
        status = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    if status == "Z":
        return False
    return marker is None or marker in cmdline


def spawn(cmd: list[str], log_file: Path, pid_file: Path, env: dict | None = None,
          cwd: Path | None = None) -> int:
    """Start a daemon-like child in its own session, output to ``log_file``; records its PID."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, env=env, cwd=cwd,
        )
    pid_file.write_text(str(proc.pid))
    return proc.pid


def wait_until(check: Callable[[], bool], timeout: float, what: str,
               alive: Callable[[], bool] | None = None, log_file: Path | None = None) -> None:
    """Poll ``check`` until it is true; fail early if the process died."""
    deadline = time.monotonic() + timeout
    delay = 0.05
    while time.monotonic() < deadline:
        if check():
            return
        if alive is not None and not alive():
            raise StackError(f"{what} exited during start-up{_log_hint(log_file)}")
        time.sleep(delay)
        delay = min(delay * 1.5, 1.0)
    raise StackError(f"{what} did not become ready within {timeout:.0f}s{_log_hint(log_file)}")


def _log_hint(log_file: Path | None) -> str:
    if log_file is None or not log_file.exists():
        return ""
    tail = log_file.read_text(errors="replace").splitlines()[-15:]
    return f"; last lines of {log_file}:\n" + "\n".join(tail)


def stop_pid(pid_file: Path, marker: str, timeout: float = 30.0) -> bool:
    """SIGTERM the recorded process (only if it is ours), SIGKILL after ``timeout``."""
    pid = read_pid(pid_file)
    if not pid_alive(pid, marker):
        pid_file.unlink(missing_ok=True)
        return False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and pid_alive(pid, marker):
        time.sleep(0.1)
    if pid_alive(pid, marker):
        os.killpg(pid, signal.SIGKILL)
        while pid_alive(pid, marker):
            time.sleep(0.05)
    pid_file.unlink(missing_ok=True)
    return True
