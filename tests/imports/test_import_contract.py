"""The import as clients see it: camelCase, numbers-only counts, phases, {code, message} errors."""

from __future__ import annotations

from datetime import datetime, timezone

import orjson
import pytest

from tests.helpers.openapi_contract import check
from theset_daemon.imports.errors import CODES, ImportFailure, failure_of
from theset_daemon.imports.plan import PHASES
from theset_daemon.imports.view import camel, import_view, public_counts
from theset_daemon.providers import (
    MalformedResponse,
    ProviderNotFound,
    ProviderRejected,
    ProviderThrottled,
    ProviderTimeout,
    ProviderUnavailable,
)

NOW = datetime(2026, 12, 1, 22, 0, tzinfo=timezone.utc)


def row(**over) -> dict:
    base = {
        "id": "6f1c4f7e-8a54-4a4b-9d64-2f4f3cf0a111", "tm_attraction_id": "K8vZ9171", "artist_id": None, "slug": None,
        "status": "running", "stage": "catalog", "progress": 42, "message": "catalog: 120 tracks fetched",
        "counts": "{}", "error": None, "created_at": NOW, "updated_at": NOW, "completed_at": None, "phases": "{}",
    }
    return {**base, **over}


def test_counts_are_numbers_with_camel_case_keys() -> None:
    raw = {"catalog_live_albums_dropped": 3, "songs": 120, "spotify_matched": True, "slug": "the-band",
           "artistId": "6f1c...", "image_error": "ClientConnectorDNSError: ...", "image_width": None, "ratio": 0.5}
    assert public_counts(raw) == {"catalogLiveAlbumsDropped": 3, "songs": 120, "spotifyMatched": 1, "ratio": 0.5}
    assert public_counts(orjson.dumps(orjson.dumps(raw).decode())) == public_counts(raw)  # older rows: a JSON string
    assert camel("tracksSeen") == "tracksSeen"


def test_a_legacy_row_still_reads_as_the_contract() -> None:
    phases = {"artist": {"state": "done", "fraction": 1, "counts": {"spotify_matched": True}, "error": None},
              "catalog": {"state": "running", "fraction": 0.42, "counts": {"tracks_seen": 120}, "error": None},
              "shows": {"state": "failed", "fraction": 0.1, "counts": {},
                        "error": "shows: ProviderUnavailable: ticketmaster /events 503"}}
    view = import_view(row(
        counts=orjson.dumps({"slug": "the-band", "artistId": "x", "songs": 3, "image_error": "boom"}).decode(),
        error="shows: ProviderUnavailable: ticketmaster /events 503", phases=orjson.dumps(phases).decode(),
    ))
    check("Import", view)
    assert view["slug"] == "the-band" and view["counts"] == {"songs": 3}
    assert view["error"] == {"code": "provider_unavailable", "message": "shows: ProviderUnavailable: ticketmaster /events 503"}
    assert list(view["phases"]) == [p.name for p in PHASES]
    assert view["phases"]["artist"] == {"state": "done", "progress": 100, "counts": {"spotifyMatched": 1}, "error": None}
    assert view["phases"]["catalog"]["progress"] == 42 and view["phases"]["catalog"]["counts"] == {"tracksSeen": 120}
    assert view["phases"]["shows"]["error"]["code"] == "provider_unavailable"
    assert view["phases"]["images"] == {"state": "pending", "progress": 0, "counts": {}, "error": None}
    assert view["createdAt"] == "2026-12-01T22:00:00+00:00"


def test_the_contract_refuses_what_the_old_shape_sent() -> None:
    view = import_view(row())
    check("Import", view)
    assert all("_" not in key for key in view), "camelCase only"
    for broken in ({**view, "counts": {"slug": "x"}}, {**view, "error": "boom"}, {**view, "phases": {}},
                   {k: v for k, v in view.items() if k != "updatedAt"}):
        with pytest.raises(AssertionError):
            check("Import", broken)


@pytest.mark.parametrize(("exc", "code"), [
    (ProviderNotFound("ticketmaster", "/attractions/{id}", 404), "not_found"),
    (ProviderUnavailable("spotify", "/albums", 503), "provider_unavailable"),
    (ProviderTimeout("setlistfm", "/search/setlists"), "provider_unavailable"),
    (ProviderThrottled("spotify", "/albums", 30), "rate_limited"),
    (ProviderRejected("spotify", "/albums", 400), "provider_rejected"),
    (MalformedResponse("spotify", "/albums", 200, "not JSON"), "invalid_response"),
    (RuntimeError("a bug"), "internal"),
    (None, "internal"),
])
def test_every_failure_has_a_stable_code(exc, code) -> None:
    failure = failure_of(exc, "catalog")
    assert failure.code == code and failure.code in CODES
    assert failure.message.startswith("catalog: ")
    assert ImportFailure.parse(failure.to_text()) == failure


def test_unknown_codes_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown import error code"):
        ImportFailure("oops", "x")


def test_an_error_message_never_carries_a_url_credential() -> None:
    view = import_view(row(status="failed", error="shows: ProviderUnavailable: GET https://u:pw@x.test/e?apikey=k1 503"))
    assert view["error"]["code"] == "provider_unavailable"
    assert "pw" not in view["error"]["message"] and "k1" not in view["error"]["message"]
