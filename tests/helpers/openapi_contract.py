"""Check JSON bodies and SSE event data against the daemon's own OpenAPI document.

OpenAPI 3.0 schemas are turned into JSON Schema (``nullable`` -> ``null`` allowed,
component refs -> definitions) and checked with jsonschema-rs, the validator
schemathesis itself ships with.
"""

from __future__ import annotations

from typing import Any

import jsonschema_rs

from theset_daemon.web.openapi import SSE_EVENTS, build_document

_DOCUMENT = build_document([], [])


def _convert(node: Any) -> Any:
    if isinstance(node, list):
        return [_convert(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: _convert(v) for k, v in node.items() if not k.startswith("x-") and k != "nullable"}
    if "$ref" in out:
        out["$ref"] = out["$ref"].replace("#/components/schemas/", "#/definitions/")
    if node.get("nullable"):
        return {"anyOf": [out, {"type": "null"}]}
    return out


def validator(name: str) -> Any:
    """A validator for the component schema ``name``."""
    definitions = {k: _convert(v) for k, v in _DOCUMENT["components"]["schemas"].items()}
    return jsonschema_rs.Draft7Validator({"$ref": f"#/definitions/{name}", "definitions": definitions})


def check(name: str, data: Any) -> None:
    """Raise AssertionError naming every way ``data`` breaks the component schema ``name``."""
    errors = [f"{'/'.join(map(str, e.instance_path))}: {e.message}" for e in validator(name).iter_errors(data)]
    assert not errors, f"{name} breaks the contract: {errors}"


def check_event(event: str, data: Any) -> None:
    """Check one SSE event's data against the schema the document gives that event."""
    assert event in SSE_EVENTS, f"undocumented SSE event {event!r}"
    check(SSE_EVENTS[event], data)
