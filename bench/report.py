"""Shared benchmark plumbing: repeated timing with medians, peak memory, and writing one
section of docs/benchmarks.md without touching the others."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import platform
import re
import resource
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from cryptoquant.config import PROJECT_ROOT

BENCHMARKS_MD = PROJECT_ROOT / "docs" / "benchmarks.md"
HEADER = """# Benchmarks

Every figure is the median of several runs, next to a baseline measured in the same run on
the same data, with the ratio between them. `make bench` reruns them all (each benchmark
rewrites only its own section). Speed is measured here, never in timed tests.
"""


def timed_runs(fn: Callable[[], object], runs: int = 3, warmup: int = 0) -> list[float]:
    """Wall-clock seconds of ``runs`` calls to ``fn`` (after ``warmup`` untimed calls)."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def median(values: list[float]) -> float:
    return statistics.median(values)


def peak_rss_mb(children: bool = False) -> float:
    """Peak resident memory of this process (or of its finished children), in MiB."""
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    return resource.getrusage(who).ru_maxrss / 1024


def machine_line() -> str:
    import os

    return (f"{platform.node()} · {os.cpu_count()} cores · Python {platform.python_version()} · "
            f"{platform.system()} {platform.release()} · {dt.date.today().isoformat()}")


def write_section(name: str, body: str) -> Path:
    """Replace (or append) the section ``## name`` in docs/benchmarks.md."""
    BENCHMARKS_MD.parent.mkdir(parents=True, exist_ok=True)
    text = BENCHMARKS_MD.read_text() if BENCHMARKS_MD.exists() else HEADER
    section = f"## {name}\n\n_{machine_line()}_\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(name)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _m: section + "\n", text)
    else:
        text = text.rstrip() + "\n\n" + section
    BENCHMARKS_MD.write_text(text.rstrip() + "\n")
    return BENCHMARKS_MD


def table(headers: list[str], rows: list[list[object]]) -> str:
    """A markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


class PeakRss:
    """Context manager: the peak total resident memory of a process tree while the block runs.

    A thread samples every ``interval`` seconds the RSS of ``pid`` (default: this process) plus
    all its descendants alive at that moment (a Spark JVM, a dbt subprocess; ``children=False``:
    the process alone), and keeps the highest sum. RSS of pages shared between processes is counted once per process, so the sum
    can overstate a little; a child living shorter than one interval can be missed.

        with PeakRss() as mem:
            job()
        mem.peak_mb
    """

    def __init__(self, pid: int | None = None, interval: float = 0.2, children: bool = True):
        import os

        self.pid = pid or os.getpid()
        self.interval = interval
        self.children = children
        self.peak_bytes = 0
        self._stop = None
        self._thread = None

    def sample(self) -> int:
        import psutil

        try:
            root = psutil.Process(self.pid)
            procs = [root, *(root.children(recursive=True) if self.children else [])]
        except (psutil.NoSuchProcess, ValueError):  # ended, or no such pid (-1)
            return 0
        total = 0
        for p in procs:
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                total += p.memory_info().rss
        self.peak_bytes = max(self.peak_bytes, total)
        return total

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> PeakRss:
        import threading

        self._stop = threading.Event()
        self.sample()
        self._thread = threading.Thread(target=self._run, name="peak-rss", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    @property
    def peak_mb(self) -> float:
        return self.peak_bytes / 2**20


def _stack_pid(pid_file: str) -> int | None:
    """The pid in a pid file under the local stack's directory, if there is one."""
    from cryptoquant.config import load_settings

    try:
        return int((load_settings().stack_path / pid_file).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def kafka_pid() -> int | None:
    """PID of the local stack's Kafka broker, if running."""
    return _stack_pid("kafka/kafka.pid")


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU seconds a running process has used so far (all its threads); None
    without a pid or once it is gone (a server configured elsewhere is not measured)."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def mariadb_pid() -> int | None:
    """PID of the local stack's MariaDB server, if running."""
    return _stack_pid("mariadb/mariadbd.pid")
