"""Why an import failed, as a stable code and a message a person can read.

The web app branches on ``code`` (never on the message): ``not_found`` (no
such attraction at Ticketmaster: an answer, not a broken job),
``provider_unavailable`` (a provider kept failing or timing out),
``rate_limited`` (a provider kept refusing us for our rate),
``provider_rejected`` (a provider refused the request, 4xx),
``invalid_response`` (a provider answered something unreadable),
``abandoned`` (no progress for too long: its host died), ``internal``
(anything else: our bug or our stores). The failure is kept in the
``error`` text columns as JSON; a legacy plain-text error reads back as
``internal`` (or the code its exception name implies).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import orjson

NOT_FOUND = "not_found"
PROVIDER_UNAVAILABLE = "provider_unavailable"
RATE_LIMITED = "rate_limited"
PROVIDER_REJECTED = "provider_rejected"
INVALID_RESPONSE = "invalid_response"
ABANDONED = "abandoned"
INTERNAL = "internal"
CODES = (NOT_FOUND, PROVIDER_UNAVAILABLE, RATE_LIMITED, PROVIDER_REJECTED, INVALID_RESPONSE, ABANDONED, INTERNAL)

#: Exception class names (as dead-letter records and legacy errors spell them) and their codes, most specific first.
_CODE_OF_NAME = (
    ("ProviderNotFound", NOT_FOUND),
    ("ProviderThrottled", RATE_LIMITED),
    ("ProviderUnavailable", PROVIDER_UNAVAILABLE),
    ("ProviderTimeout", PROVIDER_UNAVAILABLE),
    ("MalformedResponse", INVALID_RESPONSE),
    ("AudioFeaturesRefused", PROVIDER_REJECTED),
    ("ProviderRejected", PROVIDER_REJECTED),
    ("abandoned", ABANDONED),
)
MAX_MESSAGE = 500


@dataclass(frozen=True)
class ImportFailure:
    """A failed import's (or phase's) ``{code, message}``."""

    code: str
    message: str

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise ValueError(f"unknown import error code {self.code!r}; expected one of {', '.join(CODES)}")

    def as_dict(self) -> dict[str, str]:
        return asdict(self)

    def to_text(self) -> str:
        """The failure as stored in an ``error`` column."""
        return orjson.dumps({"code": self.code, "message": self.message[:MAX_MESSAGE]}).decode()

    @classmethod
    def parse(cls, value: Any) -> ImportFailure | None:
        """A stored error (JSON, or a legacy plain text) as a failure; None for no error."""
        if value is None or value == "":
            return None
        if isinstance(value, str) and value.startswith("{"):
            try:
                data = orjson.loads(value)
                return cls(data["code"], str(data["message"]))
            except (ValueError, KeyError, TypeError):
                pass
        return cls(code_of_text(str(value)), str(value)[:MAX_MESSAGE])


def code_of_text(text: str) -> str:
    """The code an error text implies by the exception name it carries, else ``internal``."""
    for name, code in _CODE_OF_NAME:
        if name in text:
            return code
    return INTERNAL


def failure_of(exc: BaseException | None, phase: str) -> ImportFailure:
    """The failure a phase's last exception means (``None``: dead-lettered without one)."""
    if exc is None:
        return ImportFailure(INTERNAL, f"{phase}: dead-lettered")
    names = dict(_CODE_OF_NAME)
    code = next((names[c.__name__] for c in type(exc).__mro__ if c.__name__ in names), INTERNAL)
    return ImportFailure(code, f"{phase}: {type(exc).__name__}: {exc}")
