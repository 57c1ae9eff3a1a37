"""The artist import end to end: HTTP kickoff, SSE progress, data checked against the sandbox's truth."""

from __future__ import annotations

import asyncio
import urllib.request

import aiohttp
import orjson
import pytest
import redis

from tests.helpers.import_harness import kickoff, query, run_import, start_daemon
from tests.helpers.openapi_contract import check_event

@pytest.fixture
def daemon(daemon_env, sandbox):
    proc = start_daemon(daemon_env, sandbox)
    yield proc
    proc.stop()


def artist_row(database_url: str, attraction: str) -> dict:
    return query(database_url, "select * from artists where tm_attraction_id = $1", attraction)[0]


def test_demo_import_lands_the_truth_with_live_progress(daemon, truth, database_url):
    attraction = truth.demo_attraction_id
    started, events = run_import(daemon, attraction)
    assert started["status"] in {"queued", "running"} and started["eventsUrl"].startswith("http")
    names = [name for name, _ in events]
    assert names[-1] == "done" and events[-1][1]["status"] == "completed", events[-3:]
    for name, data in events:  # every event of a real import keeps the documented contract
        check_event(name, data)
    final = events[-1][1]
    assert {p["state"] for p in final["phases"].values()} == {"done"}
    assert final["phases"]["catalog"]["counts"]["songs"] > 0 and final["counts"]["catalogKept"] > 0
    assert final["artistId"] and final["slug"] and final["error"] is None
    running = [data["phases"] for name, data in events if name == "progress"]
    assert any(p["catalog"]["state"] == "running" and 0 < p["catalog"]["progress"] < 100 for p in running)
    progress = [data["progress"] for _, data in events if "progress" in data]
    assert progress == sorted(progress) and progress[-1] == 100
    stages = {data.get("stage") for _, data in events}
    assert {"artist", "catalog", "shows", "venues", "setlists", "done"} <= stages

    expected = truth.artist(attraction)
    artist = artist_row(database_url, attraction)
    assert artist["image_url"].startswith("http://127.0.0.1:") and artist["image_width"] > 0, "the sandbox's image was not stored"
    songs = query(database_url, "select spotify_id, isrc from songs where artist_id = $1 and catalog_removed_at is null", artist["id"])
    kept = {s["spotify_id"] for s in songs}
    assert not kept & expected.live_track_ids, "a live track was kept"
    assert kept == expected.expected_studio_track_ids()
    isrcs = [s["isrc"] for s in songs if s["isrc"]]
    assert len(isrcs) == len(set(isrcs)), "an ISRC is stored twice"

    shows = query(database_url, "select s.tm_event_id from shows s join show_artists sa on sa.show_id = s.id where sa.artist_id = $1", artist["id"])
    assert {s["tm_event_id"] for s in shows} == expected.event_ids

    links = query(database_url, """select sl.setlistfm_id, s.tm_event_id from setlists sl left join shows s on s.id = sl.show_id
                                    where sl.artist_id = $1""", artist["id"])
    linked = {r["setlistfm_id"]: r["tm_event_id"] for r in links if r["tm_event_id"]}
    assert linked == {k: v for k, v in expected.show_links.items() if k in {r["setlistfm_id"] for r in links}}
    assert linked, "no setlist was linked to a show"

    # the catalogue job's log says why each missing track is missing
    logs = catalog_log(daemon, started["importId"])
    for album_id in expected.live_album_ids:
        name = next(a.name for a in expected.albums if a.id == album_id)
        assert f"live album dropped: {name!r}" in logs, name
    for track_id in expected.liveness_only_track_ids:
        title = expected.tracks[track_id].title
        assert f"track dropped: {title!r}: audio features say live" in logs, title
    scrape = metrics_text(daemon)
    for sample in ('theset_imports_total{event="started"} 1.0', 'theset_imports_total{event="completed"} 1.0',
                   "theset_import_visible_seconds_count 1.0"):
        assert sample in scrape, sample
    [requests] = [line for line in logs.splitlines() if line.startswith("provider requests (pages): ")]
    assert "spotify /artists/{id}/albums ×" in requests and "spotify /tracks ×" in requests, requests


def metrics_text(daemon) -> str:
    with urllib.request.urlopen(f"{daemon.url}/metrics", timeout=10) as reply:
        return reply.read().decode()


def catalog_log(daemon, import_id: str) -> str:
    """The text of the catalogue phase job's log lines (current_job().log, kept in the job record)."""
    client = redis.Redis.from_url(daemon.env["THESET_REDIS_URL"])
    try:
        raw = client.hget(f"{daemon.env['THESET_REDIS_NAMESPACE']}:job:import:{import_id}:catalog", "logs") or b""
    finally:
        client.close()
    return "\n".join(orjson.loads(line)["text"] for line in raw.decode().splitlines())


def test_reimport_changes_nothing(daemon, truth, database_url):
    attraction = truth.demo_attraction_id
    run_import(daemon, attraction)
    before = snapshot(database_url, attraction)
    _, events = run_import(daemon, attraction)
    assert events[-1][1]["status"] == "completed"
    assert snapshot(database_url, attraction) == before


def snapshot(database_url: str, attraction: str) -> dict:
    artist = artist_row(database_url, attraction)
    aid = artist["id"]
    return {
        "artist": artist["updated_at"],
        "songs": query(database_url, "select id, updated_at from songs where artist_id = $1 order by id", aid),
        "shows": query(database_url, "select s.id, s.updated_at from shows s join show_artists sa on sa.show_id = s.id where sa.artist_id = $1 order by s.id", aid),
        "setlists": query(database_url, "select id, updated_at from setlists where artist_id = $1 order by id", aid),
    }


def test_a_second_kickoff_while_running_joins_the_same_import(daemon, truth):
    async def go():
        token = daemon.env["THESET_API_TOKEN"]
        first, second = await asyncio.gather(
            kickoff(daemon.url, token, truth.big_events_attraction_id),
            kickoff(daemon.url, token, truth.big_events_attraction_id),
        )
        return first, second

    (s1, b1), (s2, b2) = asyncio.run(go())
    assert s1 == s2 == 202
    assert b1["importId"] == b2["importId"]


@pytest.mark.parametrize(
    ("body", "headers", "status", "field"),
    [
        ({"tmAttractionId": ""}, None, 400, "tmAttractionId"),
        ({"tmAttractionId": 42}, None, 400, "tmAttractionId"),
        ({}, None, 400, "tmAttractionId"),
        ({"tmAttractionId": "K1", "extra": 1}, None, 400, "extra"),
        ([1, 2], None, 400, "body"),
        ({"tmAttractionId": "K1"}, {"Authorization": "Bearer wrong"}, 401, None),
        ({"tmAttractionId": "K1"}, {"Authorization": ""}, 401, None),
        ({"tmAttractionId": "x" * 100_000}, None, 413, None),
    ],
)
def test_bad_kickoffs_get_a_clear_4xx(daemon, body, headers, status, field):
    async def go():
        auth = {"Authorization": f"Bearer {daemon.env['THESET_API_TOKEN']}"}
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{daemon.url}/api/imports", json=body, headers=headers or auth) as resp:
                return resp.status, await resp.json()

    got, payload = asyncio.run(go())
    assert got == status, payload
    assert payload["error"] and payload["message"]
    if field:
        assert payload["field"] == field


def test_unknown_import_and_bad_tokens(daemon, truth):
    async def go():
        auth = {"Authorization": f"Bearer {daemon.env['THESET_API_TOKEN']}"}
        async with aiohttp.ClientSession() as session:
            results = {}
            async with session.get(f"{daemon.url}/api/imports/00000000-0000-0000-0000-000000000000", headers=auth) as r:
                results["unknown"] = r.status
            async with session.get(f"{daemon.url}/api/imports/not-a-uuid", headers=auth) as r:
                results["malformed"] = (r.status, (await r.json()).get("field"))
            async with session.post(f"{daemon.url}/api/imports", data="{}", headers=auth) as r:
                results["not_json"] = r.status
            status, body = await kickoff(daemon.url, daemon.env["THESET_API_TOKEN"], truth.empty_attraction_id)
            forged = body["eventsUrl"].rsplit("=", 1)[0] + "=forged"
            async with session.get(forged) as r:
                results["forged"] = (r.status, (await r.json())["error"])
            return results

    results = asyncio.run(go())
    assert results == {"unknown": 404, "malformed": (400, "import_id"), "not_json": 415, "forged": (401, "invalid_token")}


def test_an_unknown_attraction_fails_the_import_not_found_without_a_dead_letter(daemon, database_url):
    started, events = run_import(daemon, "K0000000000")
    for name, data in events:
        check_event(name, data)
    name, final = events[-1]
    assert name == "done" and final["status"] == "failed"
    assert final["error"] == {"code": "not_found", "message": "Ticketmaster has no attraction K0000000000"}
    assert final["phases"]["artist"]["state"] == "failed"
    assert final["phases"]["artist"]["error"]["code"] == "not_found"
    assert {p["state"] for n, p in final["phases"].items() if n != "artist"} == {"pending"}
    status, body = asyncio.run(get_json(daemon, f"/api/imports/{started['importId']}", daemon.env["THESET_API_TOKEN"]))
    assert status == 200 and body["error"] == final["error"] and body["status"] == "failed"
    status, dead = asyncio.run(get_json(daemon, "/api/admin/dlq", daemon.env["THESET_ADMIN_TOKEN"]))
    assert status == 200 and dead["deadLetters"] == [], "an unknown attraction is an answer, not a broken job"


async def get_json(daemon, path: str, token: str) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{daemon.url}{path}", headers={"Authorization": f"Bearer {token}"}) as resp:
            return resp.status, await resp.json()
