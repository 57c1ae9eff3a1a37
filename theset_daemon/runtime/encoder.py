"""The orjson message encoder, installed process-wide with ``dramatiq.set_encoder``."""

from __future__ import annotations

from typing import Any

import dramatiq
import orjson


class OrjsonEncoder(dramatiq.Encoder):
    """Encode messages with orjson; byte-identical to JSONEncoder on plain payloads."""

    def encode(self, data: dict[str, Any]) -> bytes:
        return orjson.dumps(data)

    def decode(self, data: bytes) -> dict[str, Any]:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise dramatiq.DecodeError(f"failed to decode message {data[:200]!r}", data, exc) from None


def install() -> None:
    """Make orjson the encoder of every Dramatiq message in this process."""
    if not isinstance(dramatiq.get_encoder(), OrjsonEncoder):
        dramatiq.set_encoder(OrjsonEncoder())
