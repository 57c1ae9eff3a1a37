"""The import's phase graph: what runs when, and the progress bar."""

from theset_daemon.imports.plan import (
    DONE_WEIGHT, PHASES, PHASES_BY_NAME, STAGES, is_complete, overall_progress, ready_phases,
)
from theset_daemon.imports.progress import _check as check_report
from theset_daemon.queues import QUEUES_BY_NAME


def names(phases):
    return [p.name for p in phases]


def test_phase_one_fans_out_to_everything_that_needs_only_the_artist():
    assert names(ready_phases([])) == ["artist"]
    assert names(ready_phases(["artist"])) == ["spotify_profile", "catalog", "shows"]


def test_dependent_phases_wait_for_their_inputs():
    assert "setlists" not in names(ready_phases(["artist", "catalog"]))
    assert "setlists" in names(ready_phases(["artist", "catalog", "shows"]))
    assert names(ready_phases(["artist", "shows"], started=["catalog", "spotify_profile"])) == ["venues"]


def test_started_and_done_phases_are_never_offered_again():
    done = ["artist", "spotify_profile", "catalog", "shows", "venues", "setlists", "images"]
    assert ready_phases(done) == []
    assert is_complete(done) and not is_complete(done[:-1])


def test_progress_only_counts_weights_and_keeps_100_for_done():
    assert overall_progress({}) == 0
    assert overall_progress({"artist": 1.0}) == PHASES_BY_NAME["artist"].weight
    everything = {p.name: 1.0 for p in PHASES}
    assert overall_progress(everything) == min(99, 100 - DONE_WEIGHT)
    assert overall_progress({"catalog": 0.5, "bogus": 1.0}) == PHASES_BY_NAME["catalog"].weight // 2


def test_every_phase_runs_on_a_declared_queue():
    for phase in PHASES:
        assert phase.job.queue in QUEUES_BY_NAME


def test_every_phase_is_a_stage_progress_accepts_so_a_new_phase_needs_no_second_list():
    for phase in PHASES:
        check_report(phase.name, 10, "running")  # the reporter's validation: raises on an unknown stage
    assert STAGES == ("queued", *(p.name for p in PHASES), "done")
