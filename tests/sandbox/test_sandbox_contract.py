"""Contract tests: the sandbox's bodies have the documented examples' keys and JSON types.

The examples are copied from the research notes into tests/sandbox/provider_examples;
a key the provider omits in some answers is listed in the example's ``_optional``.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from theset_daemon.catalog.image_size import image_size
from theset_daemon.sandbox import RunningSandbox, run_sandbox

EXAMPLES = Path(__file__).parent / "provider_examples"


def example(name: str) -> tuple[dict[str, Any], set[str]]:
    data = json.loads((EXAMPLES / f"{name}.json").read_text())
    return data, set(data["_optional"])


def kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {dict: "object", list: "array", str: "string", type(None): "null"}[type(value)]


def assert_shape(documented: Any, actual: Any, optional: set[str] = frozenset(), path: str = "") -> None:
    """Every documented key is present with the documented JSON type (null: any type), recursively."""
    if documented is None:
        return
    assert kind(actual) == kind(documented), f"{path or '<body>'}: {kind(actual)} where the docs show {kind(documented)}"
    if isinstance(documented, dict):
        for key, value in documented.items():
            where = f"{path}.{key}" if path else key
            if key not in actual:
                assert where in optional, f"{where} is missing"
                continue
            assert_shape(value, actual[key], optional, where)
    elif isinstance(documented, list) and documented:
        for item in actual:
            assert_shape(documented[0], item, optional, f"{path}[]")


@pytest.fixture
async def sandbox():
    async with run_sandbox() as sb:
        yield sb


async def spotify(sb: RunningSandbox, session: aiohttp.ClientSession, path: str, **params: Any) -> tuple[int, Any]:
    env = sb.settings_env()
    if "token" not in sb.__dict__:
        form = {"grant_type": "client_credentials", "client_id": env["THESET_SPOTIFY_CLIENT_ID"],
                "client_secret": env["THESET_SPOTIFY_CLIENT_SECRET"]}
        async with session.post(f"{env['THESET_SPOTIFY_ACCOUNTS_URL']}/api/token", data=form) as reply:
            sb.__dict__["token"] = await reply.json()
    headers = {"Authorization": f"Bearer {sb.__dict__['token']['access_token']}"}
    async with session.get(f"{env['THESET_SPOTIFY_API_URL']}{path}", params=params, headers=headers) as reply:
        assert reply.headers["Content-Type"].startswith("application/json")
        return reply.status, await reply.json()


async def test_spotify_shapes(sandbox):
    truth = sandbox.truth.artist(sandbox.truth.big_catalogue_attraction_id)
    track_id = next(iter(truth.relinked))
    async with aiohttp.ClientSession() as session:
        status, artist = await spotify(sandbox, session, f"/artists/{truth.identity.spotify_id}")
        assert status == 200
        conforms("spotify_artist", artist)
        conforms("spotify_token", sandbox.__dict__["token"])
        _, track = await spotify(sandbox, session, f"/tracks/{track_id}", market="US")
        conforms("spotify_track", track)
        conforms("spotify_linked_from", track["linked_from"])
        _, albums = await spotify(sandbox, session, f"/artists/{truth.identity.spotify_id}/albums", market="US", limit=50)
        conforms("spotify_paging", albums)
        assert albums["next"].startswith(sandbox.base_url), "paging links carry the sandbox's own base URL"
        errors, _ = example("spotify_errors")
        for path, params, name in [
            ("/tracks/not-an-id", {}, "invalid_id"),
            ("/tracks/" + "0" * 22, {}, "not_found"),
            (f"/artists/{truth.identity.spotify_id}/albums", {"limit": 51}, "invalid_limit"),
        ]:
            status, body = await spotify(sandbox, session, path, **params)
            assert body == errors[name] and status == body["error"]["status"]


def conforms(name: str, actual: Any) -> None:
    """``actual`` has the shape of the documented example ``name``."""
    data, optional = example(name)
    assert_shape(data["body"], actual, optional)


async def test_spotify_profile_errors(redis_url):
    errors, _ = example("spotify_errors")
    async with run_sandbox(spotify_profile="dev-2026") as sb, aiohttp.ClientSession() as session:
        tid = next(iter(sb.truth.artist(sb.truth.demo_attraction_id).tracks))
        assert await spotify(sb, session, "/tracks", ids=tid) == (403, errors["forbidden"])
        assert await spotify(sb, session, "/audio-features", ids=tid) == (403, errors["audio_features_refused"])
        _, track = await spotify(sb, session, f"/tracks/{tid}", market="US")
        assert "popularity" not in track and "isrc" in track["external_ids"]
        sb.expire_tokens()
        assert await spotify(sb, session, f"/tracks/{tid}") == (401, errors["expired"])


async def test_ticketmaster_shapes(sandbox):
    env = sandbox.settings_env()
    base, key = env["THESET_TICKETMASTER_API_URL"], env["THESET_TICKETMASTER_API_KEY"]
    attraction = sandbox.truth.big_events_attraction_id
    errors, _ = example("ticketmaster_errors")
    async with aiohttp.ClientSession() as session:
        params = {"attractionId": attraction, "size": 20, "sort": "date,asc", "apikey": key}
        async with session.get(f"{base}/events.json", params=params) as reply:
            page = await reply.json()
            assert reply.headers["Rate-Limit-Available"].isdigit()
        conforms("ticketmaster_events_page", page)
        assert "apikey" not in json.dumps(page["_links"])
        async with session.get(f"{base}/attractions/{attraction}", params={"apikey": key}) as reply:
            conforms("ticketmaster_attraction", await reply.json())
        linked = next(a for a in sandbox.world.artists if a.external_links)
        async with session.get(f"{base}/attractions/{linked.tm_id}.json", params={"apikey": key}) as reply:
            conforms("ticketmaster_attraction", await reply.json())
        async with session.get(f"{base}/venues/12345", params={"apikey": key}) as reply:
            assert (reply.status, await reply.json()) == (404, errors["not_found"])
        async with session.get(f"{base}/events", params={**params, "size": 200, "page": 6}) as reply:
            assert (reply.status, await reply.json()) == (400, errors["too_deep"])
            assert "Rate-Limit" not in reply.headers
        async with session.get(f"{base}/events", params={**params, "attractionId": sandbox.truth.empty_attraction_id}) as reply:
            assert_shape(errors["empty"], await reply.json())
        async with session.get(f"{base}/venues/12345", params={"apikey": "wrong"}) as reply:
            assert (reply.status, await reply.json()) == (401, errors["invalid_key"])


async def test_ticketmaster_quota_fault_embeds_the_key():
    errors, _ = example("ticketmaster_errors")
    async with run_sandbox(tm_daily_quota=1) as sb, aiohttp.ClientSession() as session:
        env = sb.settings_env()
        url = f"{env['THESET_TICKETMASTER_API_URL']}/attractions/{sb.truth.demo_attraction_id}"
        key = env["THESET_TICKETMASTER_API_KEY"]
        for expected in (200, 429):
            async with session.get(url, params={"apikey": key}) as reply:
                assert reply.status == expected
                body = await reply.json()
    assert body == json.loads(json.dumps(errors["quota"]).replace("{apikey}", key))


async def test_setlistfm_shapes(sandbox):
    env = sandbox.settings_env()
    base = env["THESET_SETLISTFM_API_URL"]
    headers = {"x-api-key": env["THESET_SETLISTFM_API_KEY"], "Accept": "application/json"}
    errors, _ = example("setlistfm_errors")
    demo = sandbox.world.demo
    async with aiohttp.ClientSession(headers=headers) as session:
        async with session.get(f"{base}/artist/{demo.mbid}/setlists", params={"p": 1}) as reply:
            conforms("setlistfm_setlists", await reply.json())
        async with session.get(f"{base}/artist/{demo.mbid}/setlists", params={"p": 99}) as reply:
            body = await reply.json()
            assert reply.status == 404 and {k: v for k, v in body.items() if k != "timestamp"} == {
                k: v for k, v in errors["not_found"].items() if k != "timestamp"}
        async with session.get(f"{base}/search/artists", params={"artistName": demo.name}) as reply:
            assert_shape(errors["artists"], await reply.json())
    async with run_sandbox(rate_limits={"setlistfm": 1}) as sb, aiohttp.ClientSession(headers=headers) as session:
        url = f"{sb.settings_env()['THESET_SETLISTFM_API_URL']}/artist/{demo.mbid}"
        statuses = []
        for _ in range(2):
            async with session.get(url) as reply:
                statuses.append(reply.status)
                body = await reply.json()
        assert statuses == [200, 429]
        assert body == errors["throttled"] and "Retry-After" not in reply.headers
        assert reply.headers["x-amzn-errortype"] == "TooManyRequestsException"


def hosts_named(body: Any) -> set[str]:
    """Every host a URL anywhere in ``body`` names."""
    return set(re.findall(r"[a-z][a-z0-9+.-]*://\[?([^/:\]\s\"']+)", json.dumps(body)))


async def test_payloads_name_no_host_but_the_sandbox(sandbox):
    """No run against the sandbox resolves or contacts a host off the machine: every link,
    image and page a payload names is on the sandbox's own loopback origin, and serves."""
    env = sandbox.settings_env()
    tm, key = env["THESET_TICKETMASTER_API_URL"], env["THESET_TICKETMASTER_API_KEY"]
    sf = env["THESET_SETLISTFM_API_URL"]
    sf_headers = {"x-api-key": env["THESET_SETLISTFM_API_KEY"], "Accept": "application/json"}
    truth = sandbox.truth
    bodies: list[Any] = []
    async with aiohttp.ClientSession() as session:
        for attraction in (truth.demo_attraction_id, truth.big_catalogue_attraction_id, truth.big_events_attraction_id):
            who = truth.artist(attraction).identity
            bodies.append((await spotify(sandbox, session, f"/artists/{who.spotify_id}"))[1])
            _, albums = await spotify(sandbox, session, f"/artists/{who.spotify_id}/albums", market="US", limit=50)
            bodies.append(albums)
            for album in albums["items"][:3]:
                bodies.append((await spotify(sandbox, session, f"/albums/{album['id']}", market="US"))[1])
            for track_id in list(truth.artist(attraction).tracks)[:3]:
                bodies.append((await spotify(sandbox, session, f"/tracks/{track_id}", market="US"))[1])
            async with session.get(f"{tm}/attractions/{attraction}", params={"apikey": key}) as reply:
                bodies.append(await reply.json())
            async with session.get(f"{tm}/events.json", params={"attractionId": attraction, "size": 50, "apikey": key}) as reply:
                events = await reply.json()
                bodies.append(events)
            for venue in events.get("_embedded", {}).get("events", [{}])[0].get("_embedded", {}).get("venues", [])[:1]:
                async with session.get(f"{tm}/venues/{venue['id']}", params={"apikey": key}) as reply:
                    bodies.append(await reply.json())
            async with session.get(f"{sf}/artist/{who.mbid}/setlists", params={"p": 1}, headers=sf_headers) as reply:
                bodies.append(await reply.json())
        linked = next(a for a in sandbox.world.artists if a.external_links)
        async with session.get(f"{tm}/attractions/{linked.tm_id}.json", params={"apikey": key}) as reply:
            bodies.append(await reply.json())
        assert hosts_named(bodies) == {"127.0.0.1"}, "a sandbox payload names a host off this machine"
        image = bodies[0]["images"][0]
        async with session.get(image["url"]) as reply:
            assert reply.status == 200 and reply.content_type == "image/png"
            assert image_size(await reply.read()) == (image["width"], image["height"])
        async with session.get(bodies[0]["external_urls"]["spotify"]) as reply:
            assert reply.status == 200


def test_sandbox_source_names_no_outside_host():
    """No URL literal in the sandbox's code names a host (links are built on the request's origin)."""
    root = resources.files("theset_daemon.sandbox")
    literals = {m for f in root.glob("*.py") for m in re.findall(r"[a-z]+://[A-Za-z0-9.-]+", f.read_text())}
    assert literals <= {"http://127.0.0.1"}, literals
