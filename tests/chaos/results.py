"""A chaos scenario's result, one row of the table :func:`format_table` prints."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ScenarioResult:
    """One row of the table."""

    name: str
    started: int = 0
    completed: int = 0
    failed: int = 0
    lost: int = 0
    duplicates: int = 0
    mismatched: int = 0
    recover: str = "-"
    drain: str = "-"
    rss_start: int = 0
    rss_end: int = 0
    redis_start: int = 0
    redis_end: int = 0
    sse_clients: int = 0
    sse_done: int = 0
    reconnects: int = 0
    seconds: float = 0.0
    loop_lag: dict[str, dict[str, float]] = field(default_factory=dict)  # host id -> p50_ms/p99_ms/max_ms/...
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def failure_rate(self) -> float:
        return self.failed / self.started if self.started else 0.0

    def as_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["failure_rate"] = self.failure_rate
        return d


def _mb(n: int) -> str:
    return f"{n / 2**20:.0f}"


COLUMNS = ("scenario", "started", "done", "failed", "lost", "dup rows", "wrong", "fail %", "recover",
           "drain", "RSS MB start→end", "Redis MB start→end", "SSE done/clients (reconn)",
           "loop lag ms p50/p99/max per daemon", "s")


def _lag(r: ScenarioResult) -> str:
    return " ".join(f"{v['p50_ms']:.0f}/{v['p99_ms']:.0f}/{v['max_ms']:.0f}" for v in r.loop_lag.values()) or "-"


def format_table(results: list[ScenarioResult]) -> str:
    rows = [COLUMNS]
    for r in results:
        rows.append((
            r.name, str(r.started), str(r.completed), str(r.failed), str(r.lost), str(r.duplicates),
            str(r.mismatched), f"{100 * r.failure_rate:.1f}", r.recover, r.drain,
            f"{_mb(r.rss_start)}→{_mb(r.rss_end)}", f"{r.redis_start / 2**20:.1f}→{r.redis_end / 2**20:.1f}",
            f"{r.sse_done}/{r.sse_clients} ({r.reconnects})", _lag(r), f"{r.seconds:.0f}",
        ))
    widths = [max(len(row[c]) for row in rows) for c in range(len(COLUMNS))]
    lines = [" | ".join(cell.ljust(w) for cell, w in zip(row, widths)) for row in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)
