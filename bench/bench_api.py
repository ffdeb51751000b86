"""API latency under load: p50/p95 of the main endpoints with 20 concurrent clients on
loopback, against the same requests made by one client (the baseline), in the same run.

The server is the real one (`cryptoquant serve`, waitress) in its own process, reading the
configured warehouse (build it first: `cryptoquant pipeline run`). Clients are threads with
keep-alive sessions; each request's wall time is recorded per endpoint.

    python -m bench.bench_api [--clients 20] [--requests 2000] [--port 8071]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import requests

from bench.report import table, write_section
from cryptoquant.config import PROJECT_ROOT, load_settings

GOAL_P95_MS = 100.0
CACHE_NOTE = """With the cache on, the load cycles over a few distinct URLs, so nearly every request is
answered from memory: this is the warm-cache path (a dashboard refreshed by many users), not
the database path above. Anything else running on the same cores inflates the cache-off
figures most: compare runs on a quiet machine.
"""


def endpoints(symbol: str) -> dict[str, str]:
    return {
        "klines (500 + indicators)": f"/api/klines?symbol={symbol}&limit=500",
        "signals/latest": "/api/signals/latest?limit=5",
        "trades": f"/api/trades?symbol={symbol}&limit=200",
        "equity": f"/api/equity?symbol={symbol}",
        "performance/rolling": f"/api/performance/rolling?symbol={symbol}",
        "regression": f"/api/regression?symbol={symbol}&limit=500",
        "rules": "/api/rules?significant=true",
        "freshness": "/api/freshness",
        "symbols": "/api/symbols",
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, threads: int, cache_seconds: float, env: dict | None = None,
                 log_path: Path | None = None, wait_seconds: float = 30) -> subprocess.Popen:
    """`cryptoquant serve` in its own process, returned once /api/symbols answers. ``env``
    adds settings (CQ_*) to this process's environment."""
    exe = Path(sys.executable).with_name("cryptoquant")
    # The server's log goes to a file: an unread pipe fills up under load (waitress logs
    # its queue depth) and blocks the server.
    if log_path is None:
        log_path = Path(tempfile.mkstemp(prefix="bench-api-", suffix=".log")[1])
    log = log_path.open("w")  # open for the server's lifetime
    proc = subprocess.Popen([str(exe), "serve", "--host", "127.0.0.1", "--port", str(port),
                             "--threads", str(threads), "--cache-seconds", str(cache_seconds)],
                            cwd=PROJECT_ROOT,
                            env={**os.environ, **(env or {}), "CQ_LOG_LEVEL": "WARNING"},
                            stdout=subprocess.DEVNULL, stderr=log, text=True)
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/api/symbols", timeout=2).ok:
                return proc
        except requests.ConnectionError:
            time.sleep(0.2)
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {log_path.read_text()[-2000:]}")
    proc.terminate()
    raise RuntimeError(f"server did not answer within {wait_seconds:.0f} s")


def run_load(base: str, urls: dict[str, str], clients: int, total: int):
    """Spread `total` requests over `clients` threads, cycling through the endpoints."""
    names = list(urls)
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    lock = threading.Lock()
    start_gate = threading.Barrier(clients)

    def client(index: int) -> None:
        session = requests.Session()
        mine = range(index, total, clients)
        start_gate.wait()
        for i in mine:
            name = names[i % len(names)]
            t0 = time.perf_counter()
            try:
                ok = session.get(base + urls[name], timeout=15).status_code == 200
            except requests.RequestException:
                ok = False
            elapsed = (time.perf_counter() - t0) * 1000
            with lock:
                latencies[name].append(elapsed)
                if not ok:
                    errors[name] += 1
        session.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, errors, time.perf_counter() - t0


def pct(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def measure(args, cache_seconds: float) -> str:
    port = args.port or free_port()
    proc = start_server(port, args.threads, cache_seconds)
    base = f"http://127.0.0.1:{port}"
    try:
        symbol = requests.get(base + "/api/symbols", timeout=10).json()["symbols"][0]["symbol"]
        urls = endpoints(symbol)
        run_load(base, urls, 1, len(urls))  # warm-up: connections, dimension cache
        single, single_err, _ = run_load(base, urls, 1, args.baseline_requests)
        loaded, loaded_err, seconds = run_load(base, urls, args.clients, args.requests)
    finally:
        proc.terminate()
        proc.wait(timeout=10)

    rows, everything = [], []
    for name in urls:
        lat, one = loaded[name], single[name]
        everything += lat
        rows.append([name, f"{pct(one, 50):.1f}", f"{pct(one, 95):.1f}",
                     f"{pct(lat, 50):.1f}", f"{pct(lat, 95):.1f}",
                     f"{pct(lat, 95) / pct(one, 95):.1f}×",
                     len(lat), loaded_err[name] + single_err[name]])
    p95_all = pct(everything, 95)
    rows.append(["**all endpoints**", "", "", f"**{pct(everything, 50):.1f}**",
                 f"**{p95_all:.1f}**", "", len(everything),
                 sum(loaded_err.values()) + sum(single_err.values())])
    verdict = "met" if p95_all <= GOAL_P95_MS else "NOT met"
    return f"""{table(["endpoint", "1 client p50", "1 client p95", f"{args.clients} clients p50",
        f"{args.clients} clients p95", "p95 ratio", "requests", "errors"], rows)}

{args.requests} requests under load in {seconds:.1f} s ({args.requests / seconds:.0f} req/s),
{symbol} where a symbol is needed. Goal **{verdict}** (all endpoints p95 {p95_all:.1f} ms).
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=1800, help="requests under load")
    parser.add_argument("--baseline-requests", type=int, default=180)
    parser.add_argument("--threads", type=int, default=8, help="waitress worker threads")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)

    settings = load_settings()
    sections = []
    for label, cache_seconds in (("response cache off (every request reads MariaDB)", 0),
                                 ("response cache on (`serve` default, 10 s)", 10)):
        sections.append(f"### {label}\n\n" + measure(args, cache_seconds))
    sections.append(CACHE_NOTE)
    body = f"""
`python -m bench.bench_api` · server `cryptoquant serve` (waitress, {args.threads} threads,
own process) on 127.0.0.1, warehouse `{settings.mysql_warehouse_database}` read as
`{settings.mysql_readonly_user}`; clients are Python threads with keep-alive sessions in one
process on the same 2-core machine, cycling through the endpoints. Baseline: the same requests
from 1 client. Latencies in milliseconds. Goal: p95 ≤ {GOAL_P95_MS:.0f} ms at {args.clients}
concurrent clients.

""" + "\n".join(sections)
    print(body)
    if not args.no_write:
        print(f"wrote {write_section('API latency', body)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
