"""`python -m bench` (make bench): run every benchmark in turn; each rewrites its own section
of docs/benchmarks.md."""

import importlib
import sys

BENCHMARKS = ["bench_ingest", "bench_indicators", "bench_backtest", "bench_fpgrowth", "bench_api",
              "bench_freshness", "bench_dbt"]

if __name__ == "__main__":
    failed = []
    for name in BENCHMARKS:
        print(f"== {name}", flush=True)
        module = importlib.import_module(f"bench.{name}")
        sys.argv = [name]
        try:
            module.main()
        except Exception as exc:  # noqa: BLE001 - report and go on with the others
            print(f"{name} failed: {exc}", file=sys.stderr)
            failed.append(name)
    sys.exit(1 if failed else 0)
