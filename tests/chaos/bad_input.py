"""Chaos scenario 7, bad input: malformed, oversized and forged requests, poison messages, OpenAPI fuzzing.

Every request must get a clear 4xx (never a 5xx or no answer), every poison message must
reach its queue's dead letters with a reason, and every daemon must still be ready after.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import aiohttp
import dramatiq
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from tests.chaos.checks import KNOWN_BUGS
from tests.chaos.results import ScenarioResult
from tests.chaos.run import Chaos
from tests.chaos.webapp import ImportRun, WebApp
from theset_daemon.broker import TheSetBroker
from theset_daemon.imports.signing import sign_events_token
from theset_daemon.queues import QUEUES


async def bad_input(chaos: Chaos) -> ScenarioResult:
    """Malformed, oversized and forged requests; poison messages; OpenAPI fuzzing if the document is served."""
    assert chaos.cluster is not None
    r = chaos.begin("7 bad input")
    answers: dict[str, int] = {}
    async with chaos.web() as web:
        good = await web.run_import(chaos.next_acts(1)[0], chaos.params.import_timeout)
        answers.update(await hand_rolled(chaos, web, good))
        poison = await poison_messages(chaos)
        fuzz = await asyncio.to_thread(openapi_fuzz, chaos)
        runs = list(web.runs)
    five_xx = {k: v for k, v in answers.items() if v >= 500 or v == 0}
    if five_xx:
        r.problems.append(f"5xx or no answer: {five_xx}")
    wrong = {k: v for k, v in answers.items() if not 400 <= v < 500}
    if wrong:
        r.problems.append(f"not a clear 4xx: {wrong}")
    r.notes.append(f"{len(answers)} bad requests, all 4xx: {sorted(set(answers.values()))}")
    r.problems += poison["problems"]
    r.notes.append("dead letters: " + "; ".join(f"{k}: {v}" for k, v in poison["reasons"].items()))
    r.notes.append(fuzz["note"])
    r.problems += fuzz["problems"]
    if any(chaos.cluster.readyz(i) != 200 for i in range(len(chaos.cluster.ports))):
        r.problems.append("a daemon is not ready after the bad input")
    r.recover = f"{len(answers)} reqs, {len(poison['reasons'])} poison"
    return await chaos.finish(r, runs)


async def hand_rolled(chaos: Chaos, web: WebApp, good: ImportRun) -> dict[str, int]:
    assert web.session is not None and chaos.cluster is not None
    base = chaos.cluster.url(chaos.cluster.routable()[0])
    auth = {"Authorization": f"Bearer {chaos.secrets['THESET_API_TOKEN']}"}
    secret = chaos.secrets["THESET_SSE_SECRET"]
    iid = good.import_id or str(uuid.uuid4())
    other = str(uuid.uuid4())
    expired = sign_events_token(secret, iid, ttl_s=60, now=time.time() - 3600)
    forged = sign_events_token("not-the-secret", iid, ttl_s=600)
    someone_elses = sign_events_token(secret, other, ttl_s=600)
    valid = sign_events_token(secret, iid, ttl_s=600)
    json_h = {**auth, "Content-Type": "application/json"}
    cases: list[tuple[str, str, str, dict[str, str], bytes | None]] = [
        ("no token", "POST", "/api/imports", {"Content-Type": "application/json"}, b'{"tmAttractionId":"K1"}'),
        ("wrong token", "POST", "/api/imports", {"Authorization": "Bearer nope", "Content-Type": "application/json"},
         b'{"tmAttractionId":"K1"}'),
        ("basic auth", "POST", "/api/imports", {"Authorization": "Basic Zm9vOmJhcg==", "Content-Type": "application/json"},
         b"{}"),
        ("truncated json", "POST", "/api/imports", json_h, b'{"tmAttractionId": "K1'),
        ("not json", "POST", "/api/imports", json_h, b"\xff\xfe\x00garbage"),
        ("json array", "POST", "/api/imports", json_h, b"[1,2,3]"),
        ("json string", "POST", "/api/imports", json_h, b'"K1"'),
        ("json null", "POST", "/api/imports", json_h, b"null"),
        ("empty body", "POST", "/api/imports", json_h, b""),
        ("wrong type", "POST", "/api/imports", json_h, b'{"tmAttractionId": 12345}'),
        ("bad id chars", "POST", "/api/imports", json_h, b'{"tmAttractionId": "../../etc/passwd"}'),
        ("unicode id", "POST", "/api/imports", json_h, '{"tmAttractionId": "K\u0000\u202e\ud83d\ude00"}'.encode("utf-8", "surrogatepass")),
        ("unknown field", "POST", "/api/imports", json_h, b'{"tmAttractionId": "K1", "admin": true}'),
        ("bad owner", "POST", "/api/imports", json_h, b'{"tmAttractionId": "K1", "owner": "<script>"}'),
        ("deep nesting", "POST", "/api/imports", json_h, b'{"tmAttractionId": ' + b"[" * 5000 + b"]" * 5000 + b"}"),
        ("oversized 1 MB", "POST", "/api/imports", json_h, b'{"tmAttractionId": "' + b"K" * 2**20 + b'"}'),
        ("oversized 20 MB", "POST", "/api/imports", json_h, b'{"x": "' + b"A" * 20 * 2**20 + b'"}'),
        ("text/plain", "POST", "/api/imports", {**auth, "Content-Type": "text/plain"}, b'{"tmAttractionId":"K1"}'),
        ("form", "POST", "/api/imports", {**auth, "Content-Type": "application/x-www-form-urlencoded"},
         b"tmAttractionId=K1"),
        ("status no token", "GET", f"/api/imports/{iid}", {}, None),
        ("status bad uuid", "GET", "/api/imports/not-a-uuid", auth, None),
        ("status huge id", "GET", "/api/imports/" + "9" * 3000, auth, None),
        ("status unknown", "GET", f"/api/imports/{other}", auth, None),
        ("events no token", "GET", f"/api/imports/{iid}/events", {}, None),
        ("events forged", "GET", f"/api/imports/{iid}/events?token={forged}", {}, None),
        ("events expired", "GET", f"/api/imports/{iid}/events?token={expired}", {}, None),
        ("events other import's token", "GET", f"/api/imports/{iid}/events?token={someone_elses}", {}, None),
        ("events truncated token", "GET", f"/api/imports/{iid}/events?token={valid[:-5]}", {}, None),
        ("events garbage token", "GET", f"/api/imports/{iid}/events?token=%00%ff..", {}, None),
        ("events bad uuid", "GET", f"/api/imports/nope/events?token={valid}", {}, None),
        ("events unknown import", "GET", f"/api/imports/{other}/events?token={someone_elses}", {}, None),
        ("unknown route", "GET", "/api/nothing-here", {}, None),
        ("wrong method", "DELETE", "/api/imports", auth, None),
        ("admin no token", "GET", "/api/admin/queues", {}, None),
    ]
    answers: dict[str, int] = {}
    for name, method, path, headers, body in cases:
        try:
            async with web.session.request(method, base + path, headers=headers, data=body,
                                           timeout=aiohttp.ClientTimeout(total=20)) as resp:
                await resp.read()
                answers[name] = resp.status
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            # a server may close the connection on an oversized upload after answering 413
            answers[name] = 413 if "oversized" in name and isinstance(exc, aiohttp.ClientOSError) else 0
    # the events URL of a finished import with a garbage Last-Event-ID: still a stream (200), then done
    async with web.session.get(f"{base}/api/imports/{iid}/events?token={valid}",
                               headers={"Last-Event-ID": "x" * 5000}) as resp:
        await resp.read()
        if resp.status != 200:
            answers["events garbage Last-Event-ID"] = resp.status
    return answers


async def poison_messages(chaos: Chaos) -> dict[str, Any]:
    """Messages put straight on queues: unknown actor, undecodable JSON, wrong arguments."""
    broker = TheSetBroker(redis_url=chaos.redis.url, namespace="chaos", queues=QUEUES, host_id="chaos-producer")
    problems, reasons = [], {}
    tag = uuid.uuid4().hex[:6]
    cases = {
        f"poison-unknown-{tag}": ("webhook", "no_such_actor", None),
        f"poison-undecodable-{tag}": ("venue_sync", "sync_venue_details", b"{this is not json"),
        f"poison-wrongargs-{tag}": ("image_processing", "process_images", None),
    }
    try:
        for job_id, (queue, actor, raw) in cases.items():
            if raw is not None:
                await broker.run_script("enqueue", [1, job_id, queue, actor, 2, 0, 0, raw])
            else:
                args = (1, 2, 3, 4, 5) if "wrongargs" in job_id else ()
                msg = dramatiq.Message(queue_name=queue, actor_name=actor, args=args, kwargs={"bogus": True},
                                       options={"job_id": job_id})
                await broker.enqueue_many_async([msg])
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline and len(reasons) < len(cases):
            for job_id, (queue, _, _) in cases.items():
                state, reason, error = await broker.aredis.hmget(broker.keys.job(job_id), "state", "reason", "error")
                if state == b"dead":
                    reasons[job_id.rsplit("-", 1)[0]] = f"{(reason or b'').decode()} / {(error or b'').decode()[:80]}"
            await asyncio.sleep(0.2)
        for job_id, (queue, _, _) in cases.items():
            key = job_id.rsplit("-", 1)[0]
            if key not in reasons:
                state = await broker.aredis.hget(broker.keys.job(job_id), "state")
                problems.append(f"{key} not dead-lettered within 45 s (state {state})")
            elif not await broker.aredis.zscore(broker.keys.queue(queue, "dead"), job_id):
                problems.append(f"{key} not in {queue}'s dead letters")
            elif reasons[key].startswith(" /"):
                problems.append(f"{key} dead-lettered without a reason")
    finally:
        await broker.close()
    return {"problems": problems, "reasons": reasons}


def openapi_fuzz(chaos: Chaos) -> dict[str, Any]:
    """Schemathesis from the daemon's own ``GET /api/openapi.json``: no operation may answer 5xx.

    Events get schema-invalid cases only (a valid token holds a stream open), and so do the
    operations that change things (a valid kickoff or queue pause would disturb the run);
    the rest get valid and invalid ones, each with its API's token.
    """
    assert chaos.cluster is not None
    i = chaos.cluster.routable()[0]
    status, document = chaos.cluster.daemons[i].get("/api/openapi.json")
    if status != 200 or not isinstance(document, dict):
        return {"problems": [], "note": f"GET /api/openapi.json answered {status}: OpenAPI fuzzing skipped "
                                        f"(the hand-rolled cases ran instead)"}
    schema = schemathesis.openapi.from_dict(document)
    deadline = time.monotonic() + chaos.params.fuzz_time_s
    ran, problems, known = [], [], []
    for result in schema.get_all_operations():
        operation = result.ok()
        path, method = operation.path, operation.method.upper()
        if path.startswith("/api/imports"):
            token = chaos.secrets["THESET_API_TOKEN"]
        elif path.startswith(("/api/admin", "/api/jobs", "/metrics/json")):
            token = chaos.secrets["THESET_ADMIN_TOKEN"]
        else:
            token = None
        modes = [GenerationMode.NEGATIVE] if path.endswith("/events") or method not in ("GET", "HEAD") else [
            GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        base_url = chaos.cluster.url(i)
        for mode in modes:
            if time.monotonic() > deadline:
                break

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=chaos.params.fuzz_examples, deadline=None, database=None, derandomize=True,
                      suppress_health_check=list(HealthCheck))
            def fuzz(case: Any) -> None:
                if time.monotonic() <= deadline:
                    case.call_and_validate(base_url=base_url, headers=headers, checks=[not_a_server_error],
                                           timeout=10)

            try:
                fuzz()
            except (KeyboardInterrupt, SystemExit):
                raise
            except Unsatisfiable:  # no schema-invalid case exists (an operation without parameters)
                continue
            except BaseException as exc:  # schemathesis' FailureGroup is a BaseExceptionGroup: keep its first lines
                found = f"fuzz {method} {path} {mode.value}: {str(exc).strip().splitlines()[:3]}"
                if f"{method} {path}" in KNOWN_BUGS:
                    known.append(found)
                else:
                    problems.append(found)
            ran.append(f"{method} {path} {mode.value}")
    note = (f"schemathesis: {len(ran)} operation/mode runs of up to {chaos.params.fuzz_examples} cases, "
            f"{len(problems) + len(known)} with a 5xx")
    if known:
        note += "; KNOWN BUG (reported): " + "; ".join(f"{k} → {KNOWN_BUGS[k]}" for k in KNOWN_BUGS
                                                     if any(k in f for f in known))
    return {"problems": problems, "note": note}
