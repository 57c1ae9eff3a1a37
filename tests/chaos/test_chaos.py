"""Proof under fire, short form: three daemons, crashes, restarts, outages and bad input, nothing lost.

The same scenarios as ``bench/chaos.py`` (see ``tests/chaos/``), sized for CI
(about three minutes): three daemon processes (own ports and ``THESET_HOST_ID``) on a
private Redis and a private PostgreSQL (the shared ones are never stopped or flushed), the
sandbox answering 5 % of requests with 500/503/truncated bodies/429 bursts for the whole
run, imports driven through the HTTP API with an SSE client following each one. After
each fault the database is checked against the sandbox's ground truth.

Shorter than the full run: PostgreSQL is stopped for 6 s (bench: 30 s), the soak lasts
30 s (bench: 10 min), the lease bound is 3 s and the drain window 8 s (bench: 10 s / 25 s),
and the sandbox's ``timeout`` fault (a 30 s hang) is left to the bench.
"""

from __future__ import annotations

import asyncio
from typing import Iterator

import pytest

from tests.chaos import scenarios
from tests.chaos.results import ScenarioResult, format_table
from tests.chaos.run import Chaos, ChaosParams

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def chaos() -> Iterator[Chaos]:
    run = Chaos(ChaosParams()).start()
    yield run
    print("\n" + format_table([*run.results, run.faults_summary()]))
    run.close()


def check(result: ScenarioResult) -> None:
    assert not result.problems, f"{result.name}:\n" + "\n".join(result.problems) + "\n" + format_table([result])
    assert result.lost == 0 and result.duplicates == 0 and result.mismatched == 0
    assert result.sse_done == result.sse_clients == result.started > 0


def test_sigkill_mid_catalogue_resumes_within_the_lease_bound(chaos: Chaos) -> None:
    check(asyncio.run(scenarios.sigkill(chaos)))


def test_rolling_restart_loses_nothing(chaos: Chaos) -> None:
    result = asyncio.run(scenarios.rolling_restart(chaos))
    check(result)
    assert result.started == chaos.params.rolling_imports


def test_redis_restarted_empty_is_reconciled_from_postgres(chaos: Chaos) -> None:
    check(asyncio.run(scenarios.redis_restart(chaos)))


def test_postgres_stopped_mid_import_then_everything_completes(chaos: Chaos) -> None:
    check(asyncio.run(scenarios.postgres_outage(chaos)))


def test_soak_memory_levels_off(chaos: Chaos) -> None:
    result = asyncio.run(scenarios.soak(chaos))
    check(result)
    # the soak row reports every daemon's event-loop lag, read from /healthz through the soak
    assert chaos.cluster is not None
    assert sorted(result.loop_lag) == [chaos.cluster.host_id(i) for i in range(chaos.params.daemons)]
    assert all(v["samples"] > 0 for v in result.loop_lag.values()), result.loop_lag


def test_bad_input_gets_4xx_or_dead_letters_and_no_secret_is_logged(chaos: Chaos) -> None:
    check(asyncio.run(scenarios.bad_input(chaos)))


def test_provider_faults_for_the_whole_run_fail_under_one_percent(chaos: Chaos) -> None:
    assert len(chaos.results) == 6, "run the whole module: this sums the scenarios above"
    summary = chaos.faults_summary()
    assert summary.failure_rate < 0.01, format_table([*chaos.results, summary])
    assert summary.lost == 0 and summary.sse_done == summary.sse_clients
