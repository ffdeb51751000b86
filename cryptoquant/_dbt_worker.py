"""A long-lived dbt process: runs one dbt command per request, so that the pipeline's stages
pay dbt's start-up once.

Each `dbt` command line spends about 3-4 s on a loaded 2-core machine importing dbt before it
does anything (its dataclasses compile their serialisers at import time); the pipeline runs
three dbt stages per round and the live loop two per round. This script runs in the dbt
virtual environment (``.venv-dbt/bin/python``; it imports nothing from this project) and
invokes dbt programmatically (``dbtRunner``), which parses, connects and runs exactly as the
command line does on every request: the project is partially parsed from the target path
each time (file edits between requests are seen), the profile and ``env_var()``s read the
environment sent with the request, and ``run_started_at`` is new per request.

Protocol (``cryptoquant.dbt`` is the only client): one JSON object per line on stdin,
``{"args": [...], "env": {...}, "cwd": "...", "output": path or null}``; dbt's console output
goes to the inherited stdout, or to the file ``output`` when given; the reply, one JSON line
``{"rc": 0 | 1 | 2}`` (the exit code the ``dbt`` command line would give), is written to the
file descriptor given as the first argument. The worker ends when stdin closes.
"""

from __future__ import annotations

import json
import os
import sys


def _invoke(runner, args: list[str]) -> int:
    result = runner.invoke(args)
    if result.success:
        return 0
    return 2 if result.exception is not None else 1


def main() -> None:
    # run as a script, this file's folder comes first on sys.path, and its dbt.py is not dbt
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    reply = os.fdopen(int(sys.argv[1]), "w", buffering=1)
    from dbt.cli.main import dbtRunner  # the slow import, paid once

    runner = dbtRunner()
    for line in sys.stdin:
        request = json.loads(line)
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        sys.stdout.flush()
        saved = None
        if request.get("output"):
            saved = os.dup(1)
            with open(request["output"], "wb") as out:
                os.dup2(out.fileno(), 1)
        try:
            rc = _invoke(runner, request["args"])
        finally:
            sys.stdout.flush()
            if saved is not None:
                os.dup2(saved, 1)
                os.close(saved)
        reply.write(json.dumps({"rc": rc}) + "\n")


if __name__ == "__main__":
    main()
