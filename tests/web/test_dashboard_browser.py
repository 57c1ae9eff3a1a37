"""The operator's dashboard in a real browser: Debian's Chromium driven by Playwright.

Three daemons share one Redis namespace and one database with a sandbox: ``a``
serves the page, ``b`` is the "second daemon" that must stop taking a paused
queue's jobs, ``ro`` runs with ``THESET_DASHBOARD_READONLY=true``. Screenshots
go to ``artifacts/dashboard/`` at the repository root (gitignored).
"""

from __future__ import annotations

import os
import re
import time
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import dramatiq
import orjson
import pytest
import redis
from tests.helpers.environment import REPO, RUN_ID, free_port, redis_namespace
from tests.helpers.daemon_process import DaemonProcess
from tests.helpers.import_harness import SandboxProcess, query
from tests.helpers.waiting import wait_until

from theset_daemon.broker import TheSetBroker
from theset_daemon.queues import QUEUES
from theset_daemon.sandbox import Sandbox

if TYPE_CHECKING:
    from playwright.sync_api import Browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ARTIFACTS = REPO / "artifacts" / "dashboard"
SEED = 7
#: Milliseconds Playwright waits for the page to show something (it polls every 2-5 s).
UI_TIMEOUT_MS = 15_000

pytestmark = pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK), reason=f"{CHROMIUM} missing (scripts/ensure-browser installs it)")


# -- the cluster and the browser, once per module ----------------------------------------------


@pytest.fixture(scope="module")
def namespace(redis_url: str) -> Iterator[str]:
    with redis_namespace(redis_url, "dash") as ns:
        yield ns


@pytest.fixture(scope="module")
def sync_redis(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture(scope="module")
def cluster(redis_url: str, namespace: str, database_url: str) -> Iterator[dict[str, DaemonProcess]]:
    sandbox = SandboxProcess(seed=SEED)
    base = {k: v for k, v in os.environ.items() if not k.startswith("THESET_")}
    base.update(
        sandbox.env,
        THESET_REDIS_URL=redis_url, THESET_REDIS_NAMESPACE=namespace, THESET_DATABASE_URL=database_url,
        THESET_HTTP_HOST="127.0.0.1", THESET_API_TOKEN=f"dash-api-{RUN_ID}-{'a' * 24}", THESET_ADMIN_TOKEN=f"dash-admin-{RUN_ID}-{'a' * 24}",
        THESET_SSE_SECRET=f"dash-sse-{RUN_ID}-{'s' * 24}", THESET_ALLOW_PRIVATE_FETCH="true",
        THESET_ACTOR_MODULES="theset_daemon.actors,tests.helpers.daemon_actors", PYTHONUNBUFFERED="1",
    )
    daemons = {
        name: DaemonProcess({**base, "THESET_HTTP_PORT": str(free_port()), "THESET_HOST_ID": f"dash-{name}", **extra})
        for name, extra in (("a", {}), ("b", {}), ("ro", {"THESET_DASHBOARD_READONLY": "true"}))
    }
    try:
        daemons["a"].start().wait_ready(60)  # migrates the database first; the others then boot in parallel
        for name in ("b", "ro"):
            daemons[name].start()
        for name in ("b", "ro"):
            daemons[name].wait_ready(60)
        yield daemons
    finally:
        for daemon in daemons.values():
            daemon.stop()
        sandbox.stop()


@pytest.fixture(scope="module")
def producer(cluster, redis_url: str, namespace: str) -> Iterator[TheSetBroker]:
    broker = TheSetBroker(redis_url=redis_url, namespace=namespace, queues=QUEUES, host_id="dash-producer")
    yield broker


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Tab:
    """One signed-in page, recording dialogs and script errors."""

    def __init__(self, browser, daemon: DaemonProcess, *, width: int = 1280, height: int = 900) -> None:
        self.daemon = daemon
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.context.set_default_timeout(UI_TIMEOUT_MS)
        self.page = self.context.new_page()
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", lambda m: self.errors.append(m.text) if "Content Security Policy" in m.text else None)
        self.page.on("request", lambda r: self.requests.append(r.url))

    def sign_in(self) -> Tab:
        self.page.goto(f"{self.daemon.url}/dashboard")
        self.page.fill("#token", self.daemon.env["THESET_ADMIN_TOKEN"])
        self.page.click("form.login button[type=submit]")
        self.page.wait_for_selector("#nav:not([hidden])")
        return self

    def go(self, hash_path: str) -> None:
        self.page.evaluate("hash => { window.location.hash = hash; }", hash_path)

    def shot(self, name: str, *, full_page: bool = True) -> None:
        self.page.screenshot(path=str(ARTIFACTS / name), full_page=full_page)

    def close(self) -> None:
        assert not self.errors, f"script errors or CSP violations on the page: {self.errors}"
        self.context.close()


@pytest.fixture
def tab(browser, cluster) -> Iterator[Tab]:
    t = Tab(browser, cluster["a"]).sign_in()
    yield t
    t.close()


# -- helpers ------------------------------------------------------------------------------------


def send(broker: TheSetBroker, queue: str = "webhook", *, delay: int | None = None, **options) -> str:
    """Enqueue the test actor ``hold`` (tests/helpers/daemon_actors.py); returns the job id."""
    kwargs = {"tag": options.pop("tag", "t"), "release": options.pop("release", None)}
    job_id = options.setdefault("job_id", f"dash-{uuid.uuid4().hex[:10]}")
    message = dramatiq.Message(queue_name=queue, actor_name="hold", args=(), kwargs=kwargs, options=options)
    broker.enqueue(message, delay=delay)
    return job_id


def admin_post(daemon: DaemonProcess, path: str) -> dict:
    """An admin action with the bearer token (the way scripts call the API)."""
    request = urllib.request.Request(daemon.url + path, method="POST",
                                     headers={"Authorization": f"Bearer {daemon.env['THESET_ADMIN_TOKEN']}"})
    with urllib.request.urlopen(request, timeout=10) as resp:
        return orjson.loads(resp.read())


def admin_delete(daemon: DaemonProcess, path: str) -> dict:
    request = urllib.request.Request(daemon.url + path, method="DELETE",
                                     headers={"Authorization": f"Bearer {daemon.env['THESET_ADMIN_TOKEN']}"})
    with urllib.request.urlopen(request, timeout=10) as resp:
        return orjson.loads(resp.read())


def records(client: redis.Redis, namespace: str, name: str) -> list[dict]:
    return [orjson.loads(x) for x in client.lrange(f"{namespace}:test:{name}", 0, -1)]


def job_state(client: redis.Redis, namespace: str, job_id: str) -> str | None:
    value = client.hget(f"{namespace}:job:{job_id}", "state")
    return value.decode() if value else None


def card_count(tab: Tab, queue: str, key: str, value: str) -> str:
    return f"[data-queue='{queue}'] [data-{key}='{value}']"


# -- the tests ----------------------------------------------------------------------------------


def test_sign_in_then_the_overview_shows_each_queue_with_the_right_counts(browser, cluster, producer, sync_redis, namespace):
    # Known work in cache_warm, paused first so no daemon takes it: 2 HIGH + 3 LOW waiting, 1 delayed.
    admin_post(cluster["a"], "/api/admin/queues/cache_warm/pause")
    for priority in ("HIGH", "HIGH", "LOW", "LOW", "LOW"):
        send(producer, "cache_warm", priority=priority)
    send(producer, "cache_warm", delay=3_600_000)

    anonymous = browser.new_context()
    page = anonymous.new_page()
    page.goto(f"{cluster['a'].url}/dashboard")
    page.wait_for_selector("form.login")
    page.fill("#token", "not-the-token")
    page.click("form.login button[type=submit]")
    page.wait_for_selector(".login-error:has-text('not the admin token')")
    assert page.context.cookies() == [], "a wrong token gets no session"
    anonymous.close()

    tab = Tab(browser, cluster["a"]).sign_in()
    page = tab.page
    card = page.locator("[data-queue='cache_warm']")
    expected = {"waiting": "5", "delayed": "1", "active": "0", "failed": "0", "dead": "0"}
    for state, n in expected.items():
        page.wait_for_selector(f"[data-queue='cache_warm'] [data-count='{state}']:text-is('{n}')")
    assert card.locator("[data-priority='HIGH']").inner_text().split()[-1] == "2"
    assert card.locator("[data-priority='LOW']").inner_text().split()[-1] == "3"
    assert card.locator("[data-priority='CRITICAL']").inner_text().split()[-1] == "0"
    assert "paused" in card.locator("header").inner_text()
    assert page.locator("[data-warning='paused']").filter(has_text="cache_warm").count() == 1
    spotify = page.locator("[data-queue='spotify_sync'] .meta").inner_text()
    assert "30/s" in spotify and "3" in spotify, spotify  # rate limit and concurrency from the queue table
    assert page.locator("[data-queue='cache_warm'] svg.spark polyline").count() == 1
    for host in ("dash-a", "dash-b", "dash-ro"):
        assert "alive" in page.locator(f"tr[data-host='{host}']").inner_text()
    assert page.locator("[data-warning='no-daemon']").count() == 0
    for provider in ("spotify", "ticketmaster", "setlistfm"):  # the daily budgets (quotas.js)
        page.wait_for_selector(f"article.quota[data-provider='{provider}'] [data-meta='reset']")
    bar = page.locator("article.quota[data-provider='ticketmaster'] svg.quota-bar")
    assert "kept for imports" in bar.get_attribute("aria-label")
    tab.shot("overview.png")

    phone = Tab(browser, cluster["a"], width=375, height=812).sign_in()
    phone.page.wait_for_selector("[data-queue='cache_warm'] [data-count='waiting']:text-is('5')")
    width = phone.page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the overview is {width}px wide at phone width"
    phone.shot("overview-phone.png", full_page=False)
    phone.close()

    admin_post(cluster["a"], "/api/admin/queues/cache_warm/resume")  # "hold" jobs: they finish at once
    tab.close()


def test_the_overview_warns_when_work_waits_and_no_daemon_is_alive(tab):
    """Every daemon reported gone (the API's answer rewritten in the browser): a warning names the waiting queue."""

    def all_gone(route):
        body = route.fetch().json()
        for daemon in body["daemons"]:
            daemon["alive"] = False
        body["queues"][0]["counts"]["waiting"] = 7
        route.fulfill(json=body)

    page = tab.page
    page.route("**/api/admin/queues", all_gone)
    tab.go("#/")
    name = page.locator(".card.queue .qname").first.inner_text()
    warning = page.locator("[data-warning='no-daemon']")
    warning.wait_for()
    assert "No daemon is alive" in warning.inner_text() and name in warning.inner_text()
    assert page.locator(f"[data-queue='{name}'] .badge:text-is('no daemon')").count() == 1
    page.unroute("**/api/admin/queues")


def test_the_overview_warns_when_queued_recurring_work_will_not_fit_the_ticketmaster_budget(tab, producer, redis_url,
                                                                                            namespace):
    """Recurring work has spent the 70% it may; five more recurring syncs wait: the quota card says they will not fit."""
    import asyncio

    import redis.asyncio as aioredis

    from theset_daemon.providers.quota.rules import RECURRING, QuotaPolicy
    from theset_daemon.providers.quota.store import QuotaBudget

    async def spend_to_the_reserve() -> None:
        client = aioredis.Redis.from_url(redis_url)
        budget = QuotaBudget(client, namespace, QuotaPolicy("ticketmaster", 5000, reserve=0.3))
        n = 0
        while (await budget.spend(RECURRING, actor="sync_shows", job_id=f"dash-sync-{n}")).allowed:
            n += 1  # one call per sync job, as a shows sync of a small act costs
        await client.aclose()

    with ThreadPoolExecutor(1) as pool:  # playwright's loop runs in this thread
        pool.submit(asyncio.run, spend_to_the_reserve()).result()
    daemon = tab.daemon
    admin_post(daemon, "/api/admin/queues/ticketmaster_sync/pause")
    try:
        producer.enqueue_many([
            dramatiq.Message(queue_name="ticketmaster_sync", actor_name="sync_shows", args=(),
                             kwargs={"artist_id": f"dash-artist-{i}"},
                             options={"job_id": f"sync:dash-artist-{i}:shows", "work": RECURRING})
            for i in range(5)
        ])
        page = tab.page
        tab.go("#/")
        warning = page.locator("[data-warning='quota']")
        warning.wait_for()
        assert "queued recurring work needs ~5 ticketmaster calls; 0 are left for it" in warning.inner_text()
        card = page.locator("article.quota[data-provider='ticketmaster']")
        assert "recurring won't fit" in card.locator("header").inner_text()
        assert "3,500 / 5,000" in card.locator("[data-meta='used']").inner_text()
        tab.shot("overview-quotas.png")
    finally:
        admin_post(daemon, "/api/admin/queues/ticketmaster_sync/purge")
        admin_post(daemon, "/api/admin/queues/ticketmaster_sync/resume")
        client = redis.Redis.from_url(redis_url)
        client.delete(*client.keys(f"{namespace}:quota:ticketmaster*"))
        client.close()


def test_pausing_a_queue_from_the_page_stops_the_second_daemon_taking_its_jobs(tab, producer, sync_redis, namespace):
    page = tab.page
    tab.go("#/queue/webhook/waiting")
    page.click("[data-action='pause']")
    page.wait_for_selector("h1 .badge:text-is('paused')")
    assert sync_redis.exists(f"{namespace}:q:webhook:paused")

    tags = [f"paused-{i}" for i in range(3)]
    for t in tags:
        send(producer, tag=t)
    time.sleep(1.5)  # an unpaused queue is picked up within milliseconds
    assert not [r for r in records(sync_redis, namespace, "started") if r["tag"] in tags], "a daemon ran a paused queue's job"
    page.wait_for_selector("[data-tab='waiting'] .n:text-is('3')")
    tab.shot("queue.png")

    page.click("[data-action='resume']")
    page.wait_for_selector("h1 .badge:text-is('running')")
    def finished() -> list[dict]:
        done = [r for r in records(sync_redis, namespace, "finished") if r["tag"] in tags]
        return done if len(done) == len(tags) else []

    wait_until(finished, what="the three jobs to finish after resume")
    page.wait_for_selector("[data-tab='waiting'] .n:text-is('0')")


def test_retrying_a_failed_job_from_its_page_completes_it(tab, producer, sync_redis, namespace):
    # The first attempt outlives its 300 ms time limit (TimeLimitExceeded, as in Dramatiq); the retry is due in 10 minutes.
    job_id = send(producer, tag="flaky", release="flaky-go", time_limit=300, max_attempts=2,
                  min_backoff=600_000, max_backoff=600_000)
    wait_until(lambda: job_state(sync_redis, namespace, job_id) == "failed", what="the first attempt to fail")

    page = tab.page
    tab.go(f"#/job/{job_id}")
    page.wait_for_selector("h1 .badge:text-is('failed')")
    assert "TimeLimitExceeded" in page.locator(".error-line").inner_text()
    assert page.locator("pre.traceback").count() == 1
    tab.shot("job.png")

    sync_redis.rpush(f"{namespace}:test:flaky-go", "go")
    page.click("[data-action='retry']")
    page.wait_for_selector("h1 .badge:text-is('completed')")
    assert job_state(sync_redis, namespace, job_id) == "completed"
    assert "2 of 2" in page.locator(".facts").inner_text()
    tab.shot("job-completed.png")


def test_an_imports_progress_bar_reaches_100_live_over_its_event_stream(tab, cluster):
    daemon = cluster["a"]
    attraction = Sandbox(SEED).truth.demo_attraction_id
    request = urllib.request.Request(
        f"{daemon.url}/api/imports", method="POST", data=orjson.dumps({"tmAttractionId": attraction}),
        headers={"Authorization": f"Bearer {daemon.env['THESET_API_TOKEN']}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as resp:  # (Playwright's sync API owns this thread's event loop)
        assert resp.status == 202
        body = orjson.loads(resp.read())
    import_id = body["importId"]

    page = tab.page
    tab.go("#/imports")
    row = page.locator(f"tr[data-import='{import_id}']")
    row.wait_for()
    bar = f"tr[data-import='{import_id}'] progress"
    # Caught part-way: the bar moves while the import runs, not only when the list is reloaded.
    page.wait_for_function(f"() => {{ const v = document.querySelector(\"{bar}\").value; return v > 0 && v < 100; }}",
                           timeout=60_000, polling=50)
    tab.shot("import.png")
    page.wait_for_selector(f"{bar}[value='100']", timeout=90_000)
    assert "completed" in row.inner_text()
    assert any(f"/api/imports/{import_id}/events" in url for url in tab.requests), "the bar must follow the SSE stream"
    tab.shot("import-done.png")


def test_a_job_whose_arguments_hold_a_script_renders_as_text(tab, producer):
    payload = "<script>window.__xss = 1; alert('xss')</script><img src=x onerror=\"window.__xss = 2\">"
    job_id = send(producer, tag=payload, delay=3_600_000)
    page = tab.page
    tab.go(f"#/job/{job_id}")
    kwargs = page.locator("pre.kwargs")
    kwargs.wait_for()
    assert "<script>window.__xss = 1; alert('xss')</script>" in kwargs.inner_text()
    assert page.locator("main script, main img").count() == 0
    tab.go("#/queue/webhook/delayed")
    page.wait_for_selector(f"tr[data-job='{job_id}']")
    page.wait_for_timeout(300)
    assert page.evaluate("window.__xss") is None
    assert tab.dialogs == [], f"a dialog fired: {tab.dialogs}"


def test_read_only_mode_hides_actions_and_the_server_refuses_them(browser, cluster, sync_redis, namespace):
    tab = Tab(browser, cluster["ro"]).sign_in()
    page = tab.page
    page.wait_for_selector("#readonly-badge:not([hidden])")
    tab.go("#/queue/webhook/waiting")
    page.wait_for_selector("nav.tabs")
    assert page.locator("[data-action]").count() == 0, "read-only mode draws no action buttons"
    status = page.evaluate(
        """async () => {
            const s = await (await fetch('/dashboard/session')).json();
            const r = await fetch('/api/admin/queues/webhook/pause', {method: 'POST', headers: {'X-CSRF-Token': s.csrfToken}});
            return [r.status, (await r.json()).error];
        }"""
    )
    assert status == [403, "forbidden"]
    assert not sync_redis.exists(f"{namespace}:q:webhook:paused")
    tab.close()


def test_dead_letters_are_retried_by_selection_and_purged_after_a_confirmation(tab, producer, sync_redis, namespace):
    # Two jobs die on their only attempt (300 ms time limit while waiting for a release that has not come).
    revived = send(producer, tag="revived", release="revive-go", time_limit=300, max_attempts=1)
    doomed = send(producer, tag="doomed", release="never", time_limit=300, max_attempts=1)
    for job_id in (revived, doomed):
        wait_until(lambda job_id=job_id: job_state(sync_redis, namespace, job_id) == "dead", what=f"{job_id} to die")

    page = tab.page
    tab.go("#/dead/webhook")
    row = page.locator(f"tr[data-job='{revived}']")
    assert "attempts exhausted" in row.inner_text()
    tab.shot("dead-letters.png")
    sync_redis.rpush(f"{namespace}:test:revive-go", "go")
    row.locator("input[type=checkbox]").check()
    page.click("[data-action='retry-selected']")
    wait_until(lambda: job_state(sync_redis, namespace, revived) == "completed", what="the retried dead letter to complete")
    page.wait_for_selector(f"tr[data-job='{revived}']", state="detached")

    page.click("[data-action='purge']")
    dialog = page.locator("dialog#confirm")
    assert "webhook" in dialog.inner_text()
    dialog.locator("button[value='cancel']").click()
    assert job_state(sync_redis, namespace, doomed) == "dead", "cancel must not purge"
    page.click("[data-action='purge']")
    dialog.locator("button[value='ok']").click()
    page.wait_for_selector(f"tr[data-job='{doomed}']", state="detached")
    assert job_state(sync_redis, namespace, doomed) is None


def test_schedules_list_their_cron_and_next_run(tab):
    page = tab.page
    tab.go("#/schedules")
    row = page.locator("tr[data-schedule='calculate-trending']")
    text = row.inner_text()
    assert "0 * * * *" in text and "trending" in text
    assert row.locator("[data-action='run-now']").count() == 1
    tab.shot("schedules.png")


def test_the_page_stops_polling_while_the_tab_is_hidden(tab):
    page = tab.page
    tab.go("#/")
    page.wait_for_selector("[data-queue='webhook']")
    polls = lambda: sum(1 for url in tab.requests if url.endswith("/api/admin/queues"))
    page.evaluate("""() => {
        Object.defineProperty(document, 'hidden', {configurable: true, get: () => true});
        document.dispatchEvent(new Event('visibilitychange'));
    }""")
    page.wait_for_timeout(500)  # a refresh already in flight may still report its request
    before = polls()
    page.wait_for_timeout(3_500)  # the overview polls every 3 s while visible
    assert polls() == before, "no polling while hidden"
    assert page.locator("#live").inner_text() == "paused"
    with page.expect_request(lambda r: r.url.endswith("/api/admin/queues"), timeout=2_000):  # at once, not in 3 s
        page.evaluate("""() => {
            Object.defineProperty(document, 'hidden', {configurable: true, get: () => false});
            document.dispatchEvent(new Event('visibilitychange'));
        }""")


def test_searching_jobs_by_argument_text_state_and_queue_pages_with_more(tab, producer):
    needle = f"Needle-{uuid.uuid4().hex[:6]}"
    ids = [send(producer, "cleanup", tag=f"{needle}-{n}", delay=3_600_000) for n in range(3)]
    send(producer, "cleanup", tag="haystack", delay=3_600_000)
    page = tab.page
    tab.go("#/jobs")
    form = page.locator("form.search")
    form.wait_for()
    form.locator("input[name=q]").fill(needle.lower())  # case-insensitive
    form.locator("select[name=state]").select_option("delayed")
    form.locator("select[name=queue]").select_option("cleanup")
    form.locator("[data-action='search']").click()
    page.wait_for_function("() => location.hash.includes('state=delayed')")
    for job_id in ids:
        page.wait_for_selector(f"table.search-results tr[data-job='{job_id}']")
    assert page.locator("table.search-results tbody tr").count() == 3
    assert "searched to the end" in page.locator("[data-role='search-status']").inner_text()
    tab.shot("jobs-search.png")

    tab.go(f"#/jobs?q={needle}&limit=2")  # a page of two, then More follows the cursor
    page.wait_for_selector("[data-action='more']")
    assert page.locator("table.search-results tbody tr").count() == 2
    page.click("[data-action='more']")
    page.wait_for_function("() => document.querySelectorAll('table.search-results tbody tr[data-job]').length === 3")
    shown = page.eval_on_selector_all("table.search-results tr[data-job]", "rows => rows.map(r => r.dataset.job)")
    assert sorted(shown) == sorted(ids)
    page.click(f"table.search-results tr[data-job='{ids[0]}'] a.mono")
    page.wait_for_selector("h1 .badge:text-is('delayed')")
    assert needle in page.locator("pre.kwargs").inner_text()


def test_an_import_phase_job_page_shows_what_the_phase_decided(tab, cluster):
    daemon = cluster["a"]
    attraction = Sandbox(SEED).truth.demo_attraction_id
    headers = {"Authorization": f"Bearer {daemon.env['THESET_API_TOKEN']}", "Content-Type": "application/json"}
    request = urllib.request.Request(f"{daemon.url}/api/imports", method="POST", headers=headers,
                                     data=orjson.dumps({"tmAttractionId": attraction}))
    with urllib.request.urlopen(request, timeout=10) as resp:
        import_id = orjson.loads(resp.read())["importId"]

    def status() -> str:
        with urllib.request.urlopen(urllib.request.Request(f"{daemon.url}/api/imports/{import_id}",
                                                           headers=headers), timeout=10) as resp:
            return orjson.loads(resp.read())["status"]

    wait_until(lambda: status() in ("completed", "failed"), timeout=90, what="the import to finish")
    page = tab.page
    tab.go(f"#/job/import:{import_id}:catalog")
    log = page.locator("table.job-log")
    log.wait_for()
    text = log.inner_text()
    assert "releases" in text and "studio songs kept" in text, text
    assert "provider requests (pages): spotify" in text and "catalog done:" in text
    kept = page.locator("table.job-log tbody tr").count()
    assert kept >= 4
    tab.go(f"#/job/import:{import_id}:setlists")
    # (the artist search is logged only on a first import; the demo act may have been imported already)
    page.wait_for_selector("table.job-log >> text=past setlists with songs")
    assert "matched a catalogue song" in page.locator("table.job-log").inner_text()
    tab.shot("job-log.png")


def test_dead_letters_and_imports_page_on_with_more(tab, cluster, producer, sync_redis, namespace, database_url):
    # 103 dead letters in cleanup (an unknown actor dies at once) and 33 finished imports: more than a page of each.
    ids = [f"dash-ghost-{uuid.uuid4().hex[:8]}" for _ in range(103)]
    producer.enqueue_many([dramatiq.Message(queue_name="cleanup", actor_name="no_such_actor", args=(), kwargs={},
                                            options={"job_id": job_id}) for job_id in ids])
    wait_until(lambda: sync_redis.zcard(f"{namespace}:q:cleanup:dead") >= 103, timeout=30, what="103 dead letters")
    with ThreadPoolExecutor(1) as pool:  # (Playwright's sync API owns this thread's event loop)
        pool.submit(query, database_url, "insert into import_status (tm_attraction_id, status, created_at) "
                    "select 'Kpage' || n, 'completed', now() - interval '1 day' - n * interval '1 minute' "
                    "from generate_series(1, 33) n").result()
    page = tab.page
    tab.go("#/dead/cleanup")
    page.wait_for_selector("[data-action='more']")
    assert page.locator("table.jobs tbody tr[data-job]").count() == 100
    page.click("[data-action='more']")
    page.wait_for_function("() => document.querySelectorAll('table.jobs tbody tr[data-job]').length === 103")
    assert page.locator("[data-action='more']").count() == 0
    shown = set(page.eval_on_selector_all("table.jobs tr[data-job]", "rows => rows.map(r => r.dataset.job)"))
    assert shown == set(ids)

    tab.go("#/imports")
    more = page.locator("button[data-action='more']")
    more.wait_for()
    before = page.locator("table.imports tbody tr").count()
    assert before == 30
    more.click()
    page.wait_for_function(f"() => document.querySelectorAll('table.imports tbody tr').length > {before}")
    admin_delete(cluster["a"], "/api/admin/dlq?queue=cleanup")


def test_sign_out_everywhere_ends_this_and_every_other_session(browser, cluster):
    other = Tab(browser, cluster["b"]).sign_in()
    mine = Tab(browser, cluster["a"]).sign_in()
    try:
        mine.page.click("#sign-out-everywhere")
        mine.page.locator("dialog#confirm button[value='ok']").click()
        mine.page.wait_for_selector("form.login")
        assert re.search(r"\d+ session\(s\) ended", mine.page.inner_text("form.login"))
        # the other browser's next call is refused and it is sent back to the sign-in form
        other.page.reload()
        other.page.wait_for_selector("form.login")
    finally:
        mine.close()
        other.close()
