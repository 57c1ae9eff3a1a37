"""One provider request: rate-limit slot, timeout, retries, size cap, metrics.

Every provider client sends its requests through a :class:`ProviderHttp`. It
waits for a slot on the provider's cluster-wide limiter, sends the request
with a per-attempt timeout, retries timeouts, 5xx, connection errors and
truncated bodies with exponential backoff and jitter, and turns everything
else into the typed errors of :mod:`.errors`. A 429 pauses the provider's
limiter for every daemon and the request is sent again once the pause is
over; it never counts as an attempt. With a daily budget (:mod:`..quota`),
every attempt first spends one call of the running job's kind of work, or
raises :class:`QuotaHeld` (the job waits for the next window); a 429 gives
the call back, and what the reply says of the provider's quota is applied.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, Protocol

import aiohttp
import orjson
from multidict import CIMultiDictProxy

from ..broker.job import current_job
from ..broker.rate_limit import ClusterRateLimiter
from ..queues import Priority
from ..runtime.job_log import count_request
from ..runtime.metrics import PROVIDER_LATENCY, PROVIDER_REQUESTS
from .errors import (
    MalformedResponse,
    ProviderError,
    ProviderNotFound,
    ProviderRejected,
    ProviderThrottled,
    ProviderTimeout,
    ProviderUnavailable,
    QuotaHeld,
)
from .priority_gate import PriorityGate
from .quota.rules import ProviderReport, current_work, now_ms
from .quota.store import QuotaBudget


@dataclass(frozen=True)
class HttpPolicy:
    """How hard one provider call tries.

    Parameters:
      attempt_timeout_s: seconds one attempt may take (connect to last byte).
      attempts: attempts per call on timeouts, 5xx, connection errors, truncated bodies.
      backoff_base_s: first retry delay in seconds; doubles per attempt, with jitter.
      backoff_max_s: cap of one retry delay in seconds.
      max_body_bytes: larger bodies raise :class:`MalformedResponse` (a TM page is ~3 MB).
      max_throttle_wait_s: the longest a call waits on a 429 pause before raising
        :class:`ProviderThrottled` (so a Retry-After of hours parks the job, not a worker).
      default_retry_after_s: the pause after a 429 that names no Retry-After.
    """

    attempt_timeout_s: float = 10.0
    attempts: int = 4
    backoff_base_s: float = 0.25
    backoff_max_s: float = 5.0
    max_body_bytes: int = 16 * 2**20
    max_throttle_wait_s: float = 60.0
    default_retry_after_s: float = 1.0

    def backoff(self, failures: int) -> float:
        """Seconds to wait after the ``failures``-th failed attempt (equal jitter)."""
        ceiling = min(self.backoff_max_s, self.backoff_base_s * 2 ** (failures - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


@dataclass(frozen=True)
class Reply:
    """A provider answer: status, headers and the parsed JSON body (None if not JSON)."""

    status: int
    headers: CIMultiDictProxy[str]
    body: Any


class Auth(Protocol):
    """Credentials that may expire: a header to send, and a way to drop a stale one."""

    async def header(self) -> dict[str, str]: ...

    async def expired(self, sent: Mapping[str, str]) -> None: ...


#: Seconds to pause the provider after a 429 (from the reply; None = policy default).
RetryAfter = Callable[[Reply], "float | None"]
#: What a reply says about the provider's daily quota (None: nothing).
QuotaReader = Callable[[Reply], "ProviderReport | None"]


def no_quota_report(reply: Reply) -> ProviderReport | None:
    return None


def retry_after_header(reply: Reply) -> float | None:
    """The ``Retry-After`` header in seconds, if present and numeric."""
    value = reply.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


class ProviderHttp:
    """Send requests to one provider.

    Parameters:
      name: the provider's metric label (``spotify``, ``ticketmaster``, ``setlistfm``).
      session: the shared aiohttp session.
      limiter: the provider's cluster limiter, or None for unmetered hosts (Spotify accounts).
      policy: timeouts, retries and caps.
      auth: credentials refreshed once per call on a 401.
      retry_after: how long a 429 asks us to wait (defaults to the Retry-After header).
      budget: the provider's daily budget, or None (calls are not counted).
    """

    def __init__(
        self,
        name: str,
        session: aiohttp.ClientSession,
        limiter: ClusterRateLimiter | None,
        policy: HttpPolicy,
        *,
        auth: Auth | None = None,
        retry_after: RetryAfter = retry_after_header,
        budget: QuotaBudget | None = None,
    ) -> None:
        self.name = name
        self.budget = budget
        #: Set by a client whose provider reports its quota (Ticketmaster's headers, quota 429s).
        self.quota_report: QuotaReader = no_quota_report
        self.session = session
        self.limiter = limiter
        self.policy = policy
        self.auth = auth
        self.retry_after = retry_after
        # One waiter per process polls the limiter, the most urgent job's first
        # (FIFO within a priority): a herd of callers polling Redis at each slot
        # would make slots late, and a late GCRA slot is a lost one.
        self._slot_gate = PriorityGate()

    async def get(
        self,
        url: str,
        *,
        endpoint: str,
        params: Mapping[str, str | int] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> Reply:
        """GET a JSON resource; see :meth:`request`."""
        return await self.request("GET", url, endpoint=endpoint, params=params, headers=headers, timeout=timeout)

    async def request(
        self,
        method: str,
        url: str,
        *,
        endpoint: str,
        params: Mapping[str, str | int] | None = None,
        headers: Mapping[str, str] | None = None,
        data: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> Reply:
        """Send one request and return its 2xx reply with a parsed JSON body.

        ``timeout`` (seconds) bounds the whole call, rate-limit waits and
        retries included; None means each attempt gets the policy's timeout
        and rate-limit waits are bounded only by ``max_throttle_wait_s``.

        Raises:
          ProviderRejected: a 4xx other than 429 (ProviderNotFound for 404).
          ProviderTimeout: the budget ran out, or every attempt timed out.
          ProviderUnavailable: 5xx or connection errors on every attempt.
          MalformedResponse: a 2xx body that is not JSON, on every attempt, or too large.
          ProviderThrottled: a 429 asked for a longer wait than a call may block.
          QuotaHeld: the daily budget has no call left for this kind of work.
        """
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        failures = 0
        reauthorised = False
        work = current_work()
        while True:
            await self._spend(endpoint, work)
            try:
                await self._wait_for_slot(endpoint, deadline)
            except BaseException:
                await self._settle(work, None)
                raise
            attempt_timeout = self.policy.attempt_timeout_s
            if deadline is not None:
                attempt_timeout = min(attempt_timeout, deadline - loop.time())
            sent: dict[str, str] = dict(headers or {})
            if self.auth is not None:
                sent.update(await self.auth.header())
            try:
                reply = await self._send(method, url, endpoint, params, sent, data, attempt_timeout)
            except ProviderError as failure:
                if not failure.retryable:
                    raise
                error = failure
            else:
                report = await self._settle(work, reply)
                if reply.status == 429:
                    if report is not None and report.exhausted_until_ms:
                        raise QuotaHeld(self.name, endpoint, work[0], report.exhausted_until_ms, now_ms())
                    await self._throttled(reply, endpoint)
                    continue
                if reply.status == 401 and self.auth is not None and not reauthorised:
                    reauthorised = True
                    await self.auth.expired(sent)
                    continue
                if reply.status < 400:
                    return reply
                if reply.status < 500:
                    raise _rejected(self.name, endpoint, reply)
                error = ProviderUnavailable(self.name, endpoint, reply.status, "server error")
            failures += 1
            delay = self.policy.backoff(failures)
            out_of_time = deadline is not None and loop.time() + delay >= deadline
            if failures >= self.policy.attempts or out_of_time:
                raise error
            await asyncio.sleep(delay)

    async def _spend(self, endpoint: str, work: tuple[str, str, str]) -> None:
        """Count this attempt against the daily budget, or raise :class:`QuotaHeld`."""
        if self.budget is None:
            return
        kind, actor, job_id = work
        spent = await self.budget.spend(kind, actor=actor, job_id=job_id)
        if not spent.allowed:
            raise QuotaHeld(self.name, endpoint, kind, spent.hold_until_ms, now_ms())

    async def _settle(self, work: tuple[str, str, str], reply: Reply | None) -> ProviderReport | None:
        """Give the call back (no slot, or a 429: the provider did not count it), apply the
        reply's quota report and return it (a provider's quota refusal holds every call)."""
        if self.budget is None:
            return None
        kind, actor, _ = work
        report = self.quota_report(reply) if reply is not None else None
        refund = reply is None or reply.status == 429
        await self.budget.settle(kind, actor=actor, refund=refund, report=report)
        return report

    async def _wait_for_slot(self, endpoint: str, deadline: float | None) -> None:
        if self.limiter is None:
            return
        loop = asyncio.get_running_loop()
        priority = _job_priority()
        try:
            async with asyncio.timeout_at(deadline):
                longest = self.policy.max_throttle_wait_s
                if deadline is not None:
                    longest = min(longest, deadline - loop.time())
                if longest > 0 and await self._take_slot(priority, longest):
                    return
        except TimeoutError:
            raise ProviderTimeout(self.name, endpoint, None, "no rate-limit slot within the call's budget") from None
        paused_ms = await self.limiter.client.pttl(self.limiter.pause_key)
        if paused_ms > 0 and (deadline is None or paused_ms / 1000 > self.policy.max_throttle_wait_s):
            raise ProviderThrottled(self.name, endpoint, paused_ms / 1000)
        raise ProviderTimeout(self.name, endpoint, None, "no rate-limit slot within the call's budget")

    async def _take_slot(self, priority: int, longest: float) -> bool:
        """A CRITICAL job (phase 1) skips the line and may run one slot ahead of the rate."""
        assert self.limiter is not None
        if priority <= Priority.CRITICAL:
            return await self.limiter.acquire(timeout_s=longest, burst=self.limiter.burst + URGENT_HEADROOM)
        async with self._slot_gate.hold(priority):
            return await self.limiter.acquire(timeout_s=longest)

    async def _throttled(self, reply: Reply, endpoint: str) -> None:
        """A 429: pause the provider for every daemon, or give up if the pause is too long."""
        seconds = self.retry_after(reply)
        if seconds is None:
            seconds = self.policy.default_retry_after_s
        if self.limiter is not None:
            await self.limiter.pause(seconds)
        if seconds > self.policy.max_throttle_wait_s:
            raise ProviderThrottled(self.name, endpoint, seconds)
        if self.limiter is None:
            await asyncio.sleep(seconds)

    async def _send(
        self,
        method: str,
        url: str,
        endpoint: str,
        params: Mapping[str, str | int] | None,
        headers: Mapping[str, str],
        data: Mapping[str, str] | None,
        attempt_timeout: float,
    ) -> Reply:
        status = "error"
        started = time.monotonic()
        try:
            async with asyncio.timeout(max(attempt_timeout, 0.001)):
                async with self.session.request(method, url, params=params, headers=headers, data=data) as resp:
                    status = str(resp.status)
                    raw = await self._read_capped(resp, endpoint)
                    reply = Reply(resp.status, resp.headers, None)
        except TimeoutError:
            status = "timeout"
            raise ProviderTimeout(self.name, endpoint, None, f"no answer within {attempt_timeout:.3g} s") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise ProviderUnavailable(self.name, endpoint, None, type(exc).__name__) from None
        finally:
            PROVIDER_REQUESTS.labels(self.name, endpoint, status).inc()
            count_request(self.name, endpoint)
            PROVIDER_LATENCY.labels(self.name, endpoint).observe(time.monotonic() - started)
        return Reply(reply.status, reply.headers, self._parse(reply, raw, endpoint))

    async def _read_capped(self, resp: aiohttp.ClientResponse, endpoint: str) -> bytes:
        cap = self.policy.max_body_bytes
        if resp.content_length is not None and resp.content_length > cap:
            raise _too_large(self.name, endpoint, resp.status, cap)
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.content.iter_chunked(65536):
            size += len(chunk)
            if size > cap:
                raise _too_large(self.name, endpoint, resp.status, cap)
            chunks.append(chunk)
        return b"".join(chunks)

    def _parse(self, reply: Reply, raw: bytes, endpoint: str) -> Any:
        """The JSON body; errors may have any body, a 2xx must be JSON."""
        content_type = reply.headers.get("Content-Type", "")
        try:
            body = orjson.loads(raw) if raw else None
            return redact_fault(body) if reply.status >= 400 else body
        except orjson.JSONDecodeError:
            if reply.status >= 300:
                return None
            detail = f"body is not JSON ({content_type or 'no content type'}, {len(raw)} bytes)"
            raise MalformedResponse(self.name, endpoint, reply.status, detail) from None


class _TooLarge(MalformedResponse):
    retryable = False


def _too_large(provider: str, endpoint: str, status: int, cap: int) -> MalformedResponse:
    return _TooLarge(provider, endpoint, status, f"body larger than {cap} bytes")


def _rejected(provider: str, endpoint: str, reply: Reply) -> ProviderRejected:
    kind = ProviderNotFound if reply.status == 404 else ProviderRejected
    return kind(provider, endpoint, reply.status, error_message(reply.body), body=reply.body)


#: The API key Ticketmaster's QuotaViolation faultstring embeds ("... Identifier : <apikey>").
_FAULT_IDENTIFIER = re.compile(r"(Identifier\s*:\s*)\S+")
REDACTED = "[redacted]"


def redact_fault(body: Any) -> Any:
    """The error body with the key an Apigee fault names replaced by ``[redacted]``.

    Ticketmaster's quota fault embeds the caller's API key; nothing after this
    point (errors, job records, logs, the dashboard) ever sees it.
    """
    fault = body.get("fault") if isinstance(body, dict) else None
    if isinstance(fault, dict) and isinstance(fault.get("faultstring"), str):
        redacted = _FAULT_IDENTIFIER.sub(rf"\g<1>{REDACTED}", fault["faultstring"])
        body = {**body, "fault": {**fault, "faultstring": redacted}}
    return body


def error_message(body: Any) -> str:
    """The message of any of the three providers' error bodies, or ''."""
    if not isinstance(body, dict):
        return ""
    error = body.get("error")
    if isinstance(error, dict):
        return str(error.get("message", ""))
    if isinstance(error, str):
        return str(body.get("error_description", error))
    errors = body.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return f"{errors[0].get('code', '')} {errors[0].get('detail', '')}".strip()
    fault = body.get("fault")
    if isinstance(fault, dict):
        return str(fault.get("detail", {}).get("errorcode", "")) if isinstance(fault.get("detail"), dict) else ""
    return str(body.get("message", ""))


@contextmanager
def wire_shape(provider: str, endpoint: str, status: int = 200) -> Iterator[None]:
    """Turn a missing key or wrong type while reading a body into :class:`MalformedResponse`."""
    try:
        yield
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise MalformedResponse(provider, endpoint, status, f"unexpected shape: {type(exc).__name__} {exc}") from None



#: Slots a CRITICAL request may run ahead of a provider's steady rate.
URGENT_HEADROOM = 1


def _job_priority() -> int:
    """The priority of the job making this request (NORMAL outside a job)."""
    job = current_job()
    return job.priority if job is not None else int(Priority.NORMAL)
