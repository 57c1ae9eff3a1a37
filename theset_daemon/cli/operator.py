"""The operator's verbs in the terminal: ``queues``, ``jobs``, ``dlq``, ``queue``, ``quotas``.

They talk to Redis directly through :class:`~theset_daemon.broker.admin.QueueAdmin`
(the code behind the admin API), so they work with no daemon running and show
the same numbers. Tables for people; ``--json`` prints the API's JSON shapes.

Exit statuses: 0 done, 1 unknown queue or job (or a job in the wrong state),
2 bad usage (argparse names the flag). ``dlq purge`` asks first (or takes ``--yes``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import orjson

from ..broker import TheSetBroker
from ..broker.admin import STATES, JobFilter, JobStateConflict, QueueAdmin, UnknownJob, UnknownQueue
from ..providers.quota.forecast import quota_overview
from ..providers.quota.rules import now_ms, quota_policies
from ..providers.quota.store import QuotaBudget
from ..queues import QUEUES
from ..runtime import config, pauses
from ..runtime.masking import masker
from ..store.pool import create_pool
from .errors import Failure
from .table import print_fields, print_table

#: Most rows ``jobs list`` / ``dlq list`` print.
MAX_LIMIT = 200


def _admin() -> QueueAdmin:
    settings = config.load()
    broker = TheSetBroker(target=settings.redis_target, namespace=settings.redis_namespace, queues=QUEUES,
                          defaults=settings.jobs, host_id="theset-daemon-cli", lease_timeout_s=settings.lease_timeout)
    return QueueAdmin(broker, mask=masker(settings.secrets).value)


def _run(work: Callable[[QueueAdmin], Awaitable[Any]], args: argparse.Namespace,
         table: Callable[[Any], None]) -> int:
    """Run ``work`` against Redis; print JSON or ``table``; map unknown names to exit 1."""

    async def go() -> Any:
        admin = _admin()
        try:
            return await work(admin)
        finally:
            await admin.broker.close()

    try:
        result = asyncio.run(go())
    except (UnknownQueue, UnknownJob, JobStateConflict) as exc:
        raise Failure("not_found" if not isinstance(exc, JobStateConflict) else "conflict", str(exc)) from exc
    if args.json:
        print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
    else:
        table(result)
    return 0


def _when(ms: int | None) -> str:
    if not ms:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _short(text: str | None, width: int = 60) -> str:
    text = (text or "").replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


# -- queues ------------------------------------------------------------------------------------


def _queues_table(overview: dict) -> None:
    rows = []
    for q in overview["queues"]:
        c = q["counts"]
        age = q["oldestWaitingAgeS"]
        served = ",".join(f"{d['hostId']}({d['concurrency']})" for d in q.get("servedBy", [])) or "NONE"
        rows.append((q["name"], "yes" if q["paused"] else "", c["waiting"], c["delayed"], c["active"], c["completed"],
                     c["failed"], c["dead"], "-" if age is None else f"{age:.1f}", sum(q["throughputPerMin"]), served))
    print_table(("QUEUE", "PAUSED", "WAITING", "DELAYED", "ACTIVE", "COMPLETED", "FAILED", "DEAD", "OLDEST S",
                  "DONE 15M", "SERVED BY"), rows)
    for q in overview["queues"]:
        if q.get("unserved"):
            c = q["counts"]
            print(f"warning: {q['name']} has {c['waiting'] + c['delayed']} job(s) waiting and no daemon serves it "
                  "(THESET_QUEUES / --queues)")
    print()
    if not overview["daemons"]:
        print("no daemon has sent a heartbeat in the last day")
        return
    print_table(("DAEMON", "ALIVE", "LAST HEARTBEAT", "ACTIVE"),
                 [(d["hostId"], "yes" if d["alive"] else "no", _when(d["lastHeartbeat"]), d["active"])
                  for d in overview["daemons"]])


def _queues(args: argparse.Namespace) -> int:
    return _run(lambda admin: admin.overview(), args, _queues_table)


def _queue(args: argparse.Namespace) -> int:
    async def work(admin: QueueAdmin) -> dict:
        await _record_pause(args.queue, args.action == "pause")
        affected = await admin.queue_action(args.queue, args.action)
        return {"queue": args.queue, "action": args.action, "affected": affected}

    def show(result: dict) -> None:
        done = "paused" if args.action == "pause" else "resumed"
        print(f"{args.queue}: {done}" if result["affected"] else f"{args.queue}: already {done}")

    return _run(work, args, show)


async def _record_pause(queue: str, paused: bool) -> None:
    """Keep the pause in PostgreSQL too, so daemons re-assert a flag Redis loses (see runtime/pauses.py).

    Done where the database is configured (``THESET_DATABASE_URL``, as on a daemon
    host); a database that does not answer is reported and the Redis flag still set.
    """

    if queue not in {q.name for q in QUEUES} or not ({"THESET_DATABASE_URL", "THESET_DATABASE_URL_FILE"} & set(os.environ)):
        return
    try:
        pool = await create_pool(config.load().database_url, min_size=0, max_size=1)
        try:
            await pauses.record(pool, queue, paused, "theset-daemon-cli")
        finally:
            await pool.close()
    except Exception as exc:  # noqa: BLE001 - the Redis flag is still set; say what is missing
        print(f"theset-daemon: warning: the {'pause' if paused else 'resume'} of {queue} is not recorded in "
              f"PostgreSQL ({type(exc).__name__}: {exc}); a pause then holds only while Redis keeps its flag",
              file=sys.stderr)


# -- jobs --------------------------------------------------------------------------------------


def _job_show(args: argparse.Namespace) -> int:
    def show(job: dict) -> None:
        fields = {name: _shown(name, value) for name, value in job.items()
                  if name not in ("traceback", "history", "logs", "logsDropped")}
        if job["history"]:
            fields["history"] = "  ".join(f"{h['state']} {_when(h['at'])}" for h in job["history"])
        print_fields(fields)
        if job["traceback"]:
            print("\n" + job["traceback"].rstrip())
        _print_logs(job)

    return _run(lambda admin: admin.job(args.job_id), args, show)


def _shown(name: str, value: Any) -> Any:
    """A job field as ``jobs show`` prints it: times readable, structures as JSON."""
    if name.endswith("At"):
        return _when(value)
    if isinstance(value, (dict, list)):
        return orjson.dumps(value).decode()
    return value


def _print_logs(job: dict) -> None:
    """The job's log lines: time, attempt, text (continuation lines indented)."""
    if not job["logs"]:
        return
    dropped = f" ({job['logsDropped']} older lines dropped)" if job["logsDropped"] else ""
    print(f"\nlog{dropped}")
    for line in job["logs"]:
        text = str(line.get("text", "")).replace("\n", "\n" + " " * 25)
        print(f"{_when(line.get('at'))}  #{line.get('attempt') or '-'}  {text}")


def _jobs_list(args: argparse.Namespace) -> int:
    where = JobFilter(queue=args.queue, state=args.state, actor=args.actor, text=args.search,
                      since=args.since, until=args.until)

    async def work(admin: QueueAdmin) -> dict:
        jobs, cursor = await admin.search(where, limit=args.limit, cursor=args.cursor)
        return {"jobs": jobs, "nextCursor": cursor}

    def show(page: dict) -> None:
        if not page["jobs"]:
            print("no jobs match" if page["nextCursor"] else "no jobs match (searched to the end)")
        else:
            print_table(("JOB", "QUEUE", "ACTOR", "STATE", "PRIORITY", "ATTEMPTS", "ENQUEUED", "FINISHED", "ERROR"),
                         [(j["jobId"], j["queue"], j["actor"], j["state"], j["priority"], j["attempts"],
                           _when(j["enqueuedAt"]), _when(j["finishedAt"]), _short(j["error"])) for j in page["jobs"]])
        if page["nextCursor"]:
            print(f"\nmore: --cursor {page['nextCursor']}")

    try:
        return _run(work, args, show)
    except ValueError as exc:  # a bad cursor
        raise Failure("usage", f"--cursor: {exc}", "--cursor", status=2) from exc


def _moment(text: str) -> int:
    """A time flag: ms since the epoch, an ISO 8601 time (UTC unless it says), or an age like 90s, 15m, 2h, 1d."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if len(text) > 1 and text[-1] in units and text[:-1].isdigit():
        return int((datetime.now(UTC).timestamp() - int(text[:-1]) * units[text[-1]]) * 1000)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected ms since the epoch, an ISO time or an age like 15m/2h/1d, got {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


# -- dead letters ------------------------------------------------------------------------------


def _dlq(args: argparse.Namespace) -> int:
    if args.action == "list":
        def show(body: dict) -> None:
            if not body["deadLetters"]:
                print("no dead letters")
                return
            print_table(("JOB", "QUEUE", "ACTOR", "REASON", "ATTEMPTS", "LAST FAILED", "ERROR"),
                         [(d["jobId"], d["queue"], d["actor"], d["reason"], d["attempts"], _when(d["lastFailedAt"]),
                           _short(d["error"])) for d in body["deadLetters"]])
            if body["nextCursor"]:
                print(f"\nmore: --cursor {body['nextCursor']}")

        async def dead(admin: QueueAdmin) -> dict:
            letters, cursor = await admin.dead_letter_page(args.queue, limit=args.limit, cursor=args.cursor)
            return {"deadLetters": letters, "nextCursor": cursor}

        try:
            return _run(dead, args, show)
        except ValueError as exc:  # a bad cursor
            raise Failure("usage", f"--cursor: {exc}", "--cursor", status=2) from exc
    if args.action == "retry":
        async def retry(admin: QueueAdmin) -> dict:
            if args.job:
                return {"retried": await admin.retry_dead(args.job)}
            if args.queue:
                return {"retried": await admin.retry_dead_queue(args.queue)}
            return {"retried": sum([await admin.retry_dead_queue(q) for q in admin.broker.specs])}

        return _run(retry, args, lambda r: print(f"retried {r['retried']} dead letter(s)"))

    confirm(f"delete every dead letter {f'of queue {args.queue}' if args.queue else 'of every queue'} for good", args.yes)

    async def purge(admin: QueueAdmin) -> dict:
        return {"purged": await admin.purge_dead(args.queue)}

    return _run(purge, args, lambda r: print(f"purged {r['purged']} dead letter(s)"))


def confirm(action: str, yes: bool) -> None:
    """Go on only with ``--yes`` or a "y" typed at the terminal.

    Raises:
      Failure: declined, or no terminal to ask and no ``--yes`` (exit 2 naming ``--yes``).
    """
    if yes:
        return
    if not sys.stdin.isatty():
        raise Failure("not_confirmed", f"this would {action}; confirm with --yes", "--yes", status=2)
    answer = input(f"{action}? [y/N] ").strip().lower()
    if answer not in ("y", "yes"):
        raise Failure("not_confirmed", "nothing done (not confirmed)")


# -- daily provider quotas ---------------------------------------------------------------------


def _quotas_table(body: dict) -> None:
    def n(value: Any) -> str:
        return "-" if value is None else str(value)

    rows = []
    for q in body["providers"]:
        spent, held, queued = q["byKind"], q["held"], q["forecast"]["expected"]
        rows.append((q["provider"], q["limit"] or "none", q["used"], n(q["remaining"]),
                     f"{int(q['reserve'] * 100)}%" if q["limit"] else "-", spent["person"], spent["recurring"],
                     q["other"], f"{held['person']}/{held['recurring']}", f"{queued['person']}/{queued['recurring']}",
                     _when(q["resetAt"]) if q["resetAt"] else "at next call"))
    print_table(("PROVIDER", "LIMIT", "USED", "LEFT", "RESERVE", "PERSON", "RECURRING", "OTHER", "HELD P/R",
                  "QUEUED P/R", "RESET (UTC)"), rows)
    for q in body["providers"]:
        if q["holdUntil"]:
            print(f"\n{q['provider']}: the provider refused for quota; every call waits until {_when(q['holdUntil'])}")
        if q["forecast"]["warning"]:
            print(f"\nwarning: {q['forecast']['warning']}")


def _quotas(args: argparse.Namespace) -> int:
    async def work(admin: QueueAdmin) -> dict:
        settings = config.load()
        client = admin.broker.aredis
        budgets = {name: QuotaBudget(client, settings.redis_namespace, policy)
                   for name, policy in quota_policies(settings).items()}
        now = now_ms()
        return {"now": now, "providers": await quota_overview(budgets, client, admin.broker.keys, now)}

    return _run(work, args, _quotas_table)


# -- the parsers -------------------------------------------------------------------------------


def _limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer 1-{MAX_LIMIT}, got {text!r}") from None
    if not 1 <= value <= MAX_LIMIT:
        raise argparse.ArgumentTypeError(f"expected an integer 1-{MAX_LIMIT}, got {value}")
    return value


def _json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON (the admin API's shapes) instead of a table")


#: The variables every operator verb reads (they talk to Redis directly).
REDIS_VARIABLES = ("REDIS_URL", "REDIS_NAMESPACE")


def add_parsers(sub: Any, command: Callable[..., argparse.ArgumentParser]) -> None:
    """Add ``queues``, ``queue``, ``jobs``, ``quotas`` and ``dlq`` to the ``theset-daemon`` command.

    ``command(sub, name, summary, description, *variables)`` makes each subcommand.
    """
    queues = command(sub, "queues", "every queue's counts, pause state and throughput; the daemons",
                     "Every queue's jobs by state, pause state, oldest waiting age and completions in the\n"
                     "last 15 minutes, then every daemon's heartbeat; read from Redis (no daemon needed).",
                     *REDIS_VARIABLES)
    _json_flag(queues)
    queues.set_defaults(func=_queues)

    queue = command(sub, "queue", "pause or resume a queue for the whole cluster",
                    "Pause or resume a queue on every daemon at once; a pause survives restarts.", *REDIS_VARIABLES)
    queue.add_argument("action", choices=("pause", "resume"))
    queue.add_argument("queue", help="the queue name")
    _json_flag(queue)
    queue.set_defaults(func=_queue)

    jobs = command(sub, "jobs", "show one job (with its log), or find jobs",
                   "`jobs show ID`: a job's arguments, history, progress, error, traceback and log.\n"
                   "`jobs list [--queue Q --state S --actor A --search TEXT --since 2h --until T]`: jobs matching\n"
                   "every filter given, newest first within each queue and state.\n"
                   "`jobs search TEXT`: jobs whose arguments or error contain TEXT (list's filters apply too).",
                   *REDIS_VARIABLES)
    jobs_sub = jobs.add_subparsers(dest="jobs_command", required=True, metavar="show|list|search")
    show = jobs_sub.add_parser("show", help="everything about one job, its log included")
    show.add_argument("job_id", metavar="ID")
    _json_flag(show)
    show.set_defaults(func=_job_show)
    listing = jobs_sub.add_parser("list", help="jobs by queue, state, actor, text and time; every filter optional")
    search = jobs_sub.add_parser("search", help="jobs whose arguments or error contain TEXT (plus list's filters)")
    search.add_argument("search", metavar="TEXT", help="case-insensitive substring of the arguments or the error")
    listing.add_argument("--search", metavar="TEXT", help="case-insensitive substring of the arguments or the error")
    for parser in (listing, search):
        parser.add_argument("--queue", help="only this queue")
        parser.add_argument("--state", choices=STATES, help="only this state")
        parser.add_argument("--actor", help="only this actor")
        parser.add_argument("--since", type=_moment, metavar="TIME",
                            help="enqueued at or after: ms, ISO time, or an age (15m, 2h, 1d)")
        parser.add_argument("--until", type=_moment, metavar="TIME", help="enqueued at or before (as --since)")
        parser.add_argument("--limit", type=_limit, default=50, help=f"rows, 1-{MAX_LIMIT} (default 50)")
        parser.add_argument("--cursor", help="continue after the previous page (same filters)")
        _json_flag(parser)
        parser.set_defaults(func=_jobs_list)

    quotas = command(sub, "quotas", "each provider's daily budget, the queued work's cost, warnings",
                     "Each provider's daily quota window: limit, calls used by kind of work (person: imports;\n"
                     "recurring: scheduled syncs), left, the reserve kept for imports, calls held, the reset,\n"
                     "what the queued jobs are expected to cost, and a warning when queued recurring work will\n"
                     "not fit before the reset; read from Redis (no daemon needed).",
                     *REDIS_VARIABLES, "TICKETMASTER_DAILY_QUOTA", "SETLISTFM_DAILY_QUOTA", "SPOTIFY_DAILY_QUOTA",
                     "QUOTA_WINDOW", "QUOTA_RESERVE")
    _json_flag(quotas)
    quotas.set_defaults(func=_quotas)

    dlq = command(sub, "dlq", "list, retry or purge dead letters",
                  "Dead letters: jobs that used up their attempts or were refused. `retry` sends them back\n"
                  "to their queue; `purge` deletes them for good (it asks first, or takes --yes).",
                  *REDIS_VARIABLES)
    dlq.add_argument("action", choices=("list", "retry", "purge"))
    dlq.add_argument("--queue", help="only this queue")
    dlq.add_argument("--yes", action="store_true", help="purge: do not ask for confirmation")
    dlq.add_argument("--job", action="append", metavar="ID", help="retry: this dead letter (repeatable)")
    dlq.add_argument("--limit", type=_limit, default=50, help=f"list: rows, 1-{MAX_LIMIT} (default 50)")
    dlq.add_argument("--cursor", help="list: continue after the previous page")
    _json_flag(dlq)
    dlq.set_defaults(func=_dlq)


def check_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Usage errors argparse cannot see (exit 2 naming the flag)."""
    if getattr(args, "func", None) is _dlq and args.job and args.action != "retry":
        parser.error("argument --job: only with 'dlq retry'")
    if getattr(args, "func", None) is _jobs_list and args.since is not None and args.until is not None \
            and args.since > args.until:
        parser.error("argument --until: must not be before --since")
    if getattr(args, "func", None) is _dlq and args.job and args.queue:
        parser.error("argument --job: not allowed with argument --queue")
