"""The typed outcomes of a provider call that did not return data.

Every error names the provider, the endpoint (route template, never a raw URL
with keys in it) and the HTTP status when there was one. ``retryable`` tells
the job layer what to do: ``False`` means retrying the job cannot help (the
broker maps it to a permanent failure); ``True`` means the client's own
retries are spent and a later attempt may succeed.
"""

from __future__ import annotations

import random

from ..broker.errors import Permanent, Postpone
from .quota.rules import held_message


class ProviderError(Exception):
    """A provider call failed.

    Parameters:
      provider: ``spotify``, ``ticketmaster`` or ``setlistfm``.
      endpoint: the route template, e.g. ``/artists/{id}/albums``.
      status: the HTTP status, or ``None`` when no response arrived.
      detail: a short human-readable explanation (never a secret).
    """

    retryable = True

    def __init__(self, provider: str, endpoint: str, status: int | None = None, detail: str = "") -> None:
        self.provider = provider
        self.endpoint = endpoint
        self.status = status
        self.detail = detail
        shown = f" {status}" if status is not None else ""
        super().__init__(f"{provider} {endpoint}{shown}: {detail}".rstrip(": "))


class ProviderTimeout(ProviderError):
    """No answer within the call's time budget, after the client's own retries."""


class ProviderUnavailable(ProviderError):
    """5xx answers or connection errors until the client's retries ran out."""


class ProviderThrottled(ProviderError, Postpone):
    """The provider asked us to wait longer than a call may block (429).

    The provider's cluster limiter is already paused for ``retry_after`` seconds;
    as a :class:`~theset_daemon.broker.Postpone` the job goes back to wait that
    long without counting an attempt: a 429 never fails a job.
    """

    def __init__(self, provider: str, endpoint: str, retry_after: float, detail: str = "") -> None:
        super().__init__(provider, endpoint, 429, detail or f"retry after {retry_after:.0f} s")
        self.retry_after = retry_after
        self.delay_ms = int(retry_after * 1000)


class QuotaHeld(ProviderThrottled):
    """The daily budget holds this call: the job waits until ``until_ms`` (epoch ms).

    Recurring work meets it at the reserve, work someone waits for at zero (or
    when the provider itself refused for quota). A :class:`ProviderThrottled`,
    so a :class:`~theset_daemon.broker.Postpone`: no attempt is spent, the job
    is never failed or dead-lettered for it, and it runs again in the next window.
    """

    def __init__(self, provider: str, endpoint: str, kind: str, until_ms: int, now_ms: int) -> None:
        wait_s = max(0.001, (until_ms - now_ms) / 1000)
        super().__init__(provider, endpoint, wait_s, f"{kind} work: {held_message(provider, until_ms)}")
        self.kind = kind
        self.until_ms = until_ms
        # a little past the reset, spread so held jobs do not all return in the same millisecond
        self.delay_ms = int(wait_s * 1000) + random.randint(50, 50 + min(2000, int(wait_s * 100)))


class ProviderRejected(ProviderError, Permanent):
    """A 4xx other than 429: the request itself is wrong, retrying cannot help (dead-lettered at once)."""

    retryable = False

    def __init__(
        self, provider: str, endpoint: str, status: int | None, detail: str = "", body: object = None
    ) -> None:
        super().__init__(provider, endpoint, status, detail)
        self.body = body


class ProviderNotFound(ProviderRejected):
    """A 404: the resource does not exist (callers often map it to 'empty')."""


class MalformedResponse(ProviderError):
    """A body that is not the JSON we expect (truncated, not JSON, wrong shape, too large)."""


class AudioFeaturesRefused(ProviderRejected):
    """Spotify withholds audio features from this app (403 since 2024-11-27).

    Not an error to retry: the catalogue skips the liveness layer and reports it.
    """

    def __init__(self, endpoint: str = "/audio-features") -> None:
        super().__init__("spotify", endpoint, 403, "audio features are not available to this app")
