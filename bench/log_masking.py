"""Cost of masking a log line (theset_daemon.runtime.masking via logs.JsonFormatter), printed as JSON.

    .venv/bin/python bench/log_masking.py [--lines N]

Formats the same records with the daemon's formatter and with a bare orjson
encoding of the same entry (the floor), best of five rounds each.
"""

from __future__ import annotations

import os
import sys

# bench/queue.py would shadow the standard library's queue (redis-py imports it).
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

import argparse  # noqa: E402
import logging  # noqa: E402
import time  # noqa: E402

import orjson  # noqa: E402

from theset_daemon.runtime.logs import JsonFormatter  # noqa: E402


def _record(message: str) -> logging.LogRecord:
    record = logging.LogRecord("theset.bench", logging.INFO, __file__, 1, message, (12,), None)
    record.__dict__.update(job_id="import:abc:phase", queue="spotify_sync", attempts=2, remote="127.0.0.1")
    return record


def _best_us(format_line, record: logging.LogRecord, lines: int) -> float:
    rounds = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(lines):
            format_line(record)
        rounds.append((time.perf_counter() - started) / lines * 1e6)
    return round(min(rounds), 2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=20_000)
    args = parser.parse_args()
    formatter = JsonFormatter(["x" * 40, "y" * 43, "z" * 32])

    def floor(record: logging.LogRecord) -> bytes:
        return orjson.dumps({"ts": record.created, "level": record.levelname, "logger": record.name,
                             "message": record.getMessage(), "job_id": "import:abc:phase", "queue": "spotify_sync",
                             "attempts": 2, "remote": "127.0.0.1"})

    result = {}
    for name, message in (("plain", "job finished in %s ms"),
                          ("with_url", "job finished in %s ms for https://api.example/v1/x?apikey=abc")):
        record = _record(message)
        result[name] = {"masked_us_per_line": _best_us(formatter.format, record, args.lines),
                        "bare_orjson_us_per_line": _best_us(floor, record, args.lines)}
    print(orjson.dumps(result).decode())


if __name__ == "__main__":
    main()
