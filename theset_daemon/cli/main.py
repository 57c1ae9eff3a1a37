"""The ``theset-daemon`` command: run, config, migrate, sandbox, and the operator verbs
(``queues``, ``queue``, ``jobs``, ``dlq``: see ``operator.py``).

Exit statuses: 0 success, 1 failure, 2 bad usage (a message names the flag),
78 a configuration variable is wrong (the message names it). A failure the user
can fix (a service not answering, a missing database, a port in use, a refused
token) is one line naming the cause and the variable or flag (JSON under
``--json``: see ``cli/errors.py``); ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import sys
from typing import Callable, Mapping, Sequence

import aiohttp
import dramatiq
import orjson
import uvloop

from .. import __version__, sandbox
from ..broker import TheSetBroker
from ..queues import QUEUES
from ..runtime import config, logs
from ..runtime.daemon import Daemon
from ..scheduling.scheduler import load_schedules, schedule_status, schedules_path
from ..store.migrate import migrate
from ..store.pool import create_pool
from . import operator
from .demo import run_demo
from .errors import Failure, explain, reason, report
from .follow import ProgressBars, follow_events, start_import
from .help import Parser, environment
from .table import print_fields, print_table

Command = Callable[[argparse.Namespace], int]


def _run(args: argparse.Namespace) -> int:
    environ = dict(os.environ) if args.queues is None else {**os.environ, "THESET_QUEUES": args.queues}
    settings = config.load(environ)  # --queues is THESET_QUEUES for this run
    settings.check_serving()
    logs.setup(settings.log_level, settings.secrets)
    for warning in boot_warnings(settings, os.environ):
        logging.getLogger("theset_daemon.runtime.config").warning(warning)
    return uvloop.run(Daemon(settings, migrate=not args.no_migrate).run())


def boot_warnings(settings: config.Settings, environ: Mapping[str, str]) -> list[str]:
    """What a daemon starting with these settings should warn about once: closed APIs, no provider keys, defaults."""
    warnings = []
    if not settings.api_token:
        warnings.append("THESET_API_TOKEN is not set: the import API refuses every request (401)")
    if not settings.admin_token:
        warnings.append("THESET_ADMIN_TOKEN is not set: the admin API and the dashboard refuse every request (401)")
    missing = [var.env for name, var in config.VARIABLES.items()
               if name in ("spotify_client_id", "spotify_client_secret", "ticketmaster_api_key", "setlistfm_api_key")
               and not getattr(settings, name)]
    if missing:
        warnings.append(f"{', '.join(missing)} not set: imports and syncs calling those providers will fail")
    for name in ("database_url", "redis_url"):
        env = config.VARIABLES[name].env
        if not any(key in environ for key in (env, f"{env}_FILE")) and "CREDENTIALS_DIRECTORY" not in environ:
            warnings.append(f"{env} is not set: using the default {config.VARIABLES[name].default.split('@')[-1]}")
    return warnings


def _config(args: argparse.Namespace) -> int:
    shown = config.load().masked()
    if args.json:
        print(orjson.dumps(shown, option=orjson.OPT_INDENT_2).decode())
    else:
        print_fields({name: ",".join(value) if isinstance(value, list) else value for name, value in shown.items()})
    return 0


def _migrate(args: argparse.Namespace) -> int:
    settings = config.load()
    applied = asyncio.run(migrate(settings.database_url))
    print(f"applied {len(applied)} migration(s)" + (": " + ", ".join(applied) if applied else ""))
    return 0


def _import(args: argparse.Namespace) -> int:
    settings = config.load()
    base_url = args.url or f"http://{settings.http_host}:{settings.http_port}"
    token = settings.api_token
    if not token:
        raise Failure("config", "no token for the import API", "THESET_API_TOKEN", status=config.EXIT_CONFIG)

    async def go() -> int:
        async with aiohttp.ClientSession() as session:
            try:
                started = await start_import(session, base_url, token, args.attraction_id)
            except aiohttp.ClientConnectionError as exc:
                where = "--url" if args.url else "--url, or THESET_HTTP_HOST and THESET_HTTP_PORT"
                raise Failure("daemon_unavailable", f"no daemon answering at {base_url}: {reason(exc)}", where) from exc
            print(f"import {started['importId']} ({started['status']})")
            if not args.follow:
                print(orjson.dumps(started, option=orjson.OPT_INDENT_2).decode())
                return 0
            bars, final = ProgressBars(), {}
            async for name, data in follow_events(session, started["eventsUrl"]):
                bars.show(name, data)
                final = data
            if final.get("status") != "completed":
                raise Failure("import_failed", f"import {started['importId']} {final.get('status')}: {final.get('error')}")
            return 0

    return asyncio.run(go())


def _schedules(args: argparse.Namespace) -> int:
    settings = config.load()
    broker = TheSetBroker(target=settings.redis_target, namespace=settings.redis_namespace, queues=QUEUES)  # never connects
    dramatiq.set_broker(broker)
    for module in settings.actor_modules:
        importlib.import_module(module)
    actor_queues = {name: actor.queue_name for name, actor in broker.actors.items()}
    schedules = load_schedules(schedules_path(settings.schedules_file), actor_queues)

    async def go() -> list[dict]:
        pool = await create_pool(settings.database_url, min_size=0, max_size=1)
        try:
            return await schedule_status(pool, schedules)
        finally:
            await pool.close()

    rows = asyncio.run(go())
    if args.json:
        print(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode())
        return 0
    print_table(("NAME", "CRON", "QUEUE", "LAST RUN", "OUTCOME", "NEXT RUN"), [
        (r["name"], r["cron"] + ("" if r["timezone"] == "UTC" else f" ({r['timezone']})"), r["queue"],
         r["last_fire"] or "never", r["last_outcome"] or "-", r["next_fire"] or "-")
        for r in rows
    ])
    return 0


def _demo(args: argparse.Namespace) -> int:
    return run_demo(args)


def _command(sub, name: str, summary: str, description: str, *variables: str) -> argparse.ArgumentParser:
    """A subcommand with a one-line ``help``, a ``description`` and the variables it reads."""
    return sub.add_parser(name, help=summary, description=description, epilog=environment(*variables))


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="theset-daemon", description="TheSet sync daemon and its operator's tools.",
                    epilog="`theset-daemon COMMAND --help` describes a command and the variables it reads.")
    parser.add_argument("--version", action="version", version=f"theset-daemon {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the traceback of a failure (any position)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = _command(sub, "run", "run the daemon (workers, scheduler, side server) until SIGTERM",
                   "Run the daemon: apply pending migrations (under an advisory lock), start the workers, the\n"
                   "scheduler and the side server, tell systemd READY, and serve until SIGTERM/SIGINT, then drain.", "*")
    run.add_argument("--no-migrate", action="store_true", help="do not apply pending migrations at boot")
    run.add_argument("--queues", help="comma-separated queues this daemon consumes (THESET_QUEUES; default all)")
    run.set_defaults(func=_run)

    show = _command(sub, "config", "print the effective configuration, secrets masked",
                    "Print every setting as the daemon would read it here (variables, _FILE, credentials),\n"
                    "secrets masked; exits 78 naming the first wrong variable.", "*")
    show.add_argument("--json", action="store_true", help="print JSON instead of a table")
    show.set_defaults(func=_config)

    _command(sub, "migrate", "apply pending sql/ migrations (safe on many hosts at once)",
             "Create the database if missing and apply each pending migration once, under an advisory lock.",
             "DATABASE_URL").set_defaults(func=_migrate)

    start = _command(sub, "import", "start an artist import through the daemon's API",
                     "Start (or join) the import of a Ticketmaster attraction through a running daemon's\n"
                     "import API, as the web app does; --follow draws its progress from the SSE stream.",
                     "API_TOKEN", "HTTP_HOST", "HTTP_PORT")
    start.add_argument("attraction_id", help="the Ticketmaster attraction id of the artist")
    start.add_argument("--follow", action="store_true", help="show live progress bars until the import ends")
    start.add_argument("--url", help="the daemon's base URL (default: http://THESET_HTTP_HOST:THESET_HTTP_PORT)")
    start.set_defaults(func=_import)

    schedules = _command(sub, "schedules", "list the recurring jobs with their last and next run",
                         "Each recurring job of the schedule file with its cron, queue, last fire and outcome\n"
                         "(from PostgreSQL) and next fire.", "DATABASE_URL", "SCHEDULES_FILE", "ACTOR_MODULES")
    schedules.add_argument("--json", action="store_true", help="print JSON instead of a table")
    schedules.set_defaults(func=_schedules)

    demo = _command(sub, "demo", "sandbox + daemon + a demo artist imported with live progress",
                    "Start the sandbox providers and a daemon (database theset_demo, namespace theset-demo\n"
                    "unless set), import the demo artist with a bar per phase, print what landed and how to\n"
                    "go on (dashboard, admin token, exports for the CLI), and serve until Ctrl-C.",
                    "DATABASE_URL", "REDIS_URL", "REDIS_NAMESPACE", "API_TOKEN", "ADMIN_TOKEN")
    demo.add_argument("--port", type=int, default=8080, help="the daemon's HTTP port (default 8080, or a free one)")
    demo.add_argument("--sandbox-port", type=int, default=8090, help="the sandbox's HTTP port (default 8090, or a free one)")
    demo.add_argument("--artist", help="Ticketmaster attraction id to import (default: the sandbox's demo artist)")
    demo.add_argument("--exit", action="store_true", help="stop everything after the import instead of serving on")
    demo.set_defaults(func=_demo)

    sub.add_parser("sandbox", help="serve the local Spotify / Ticketmaster / setlist.fm sandbox (see sandbox --help)")

    operator.add_parsers(sub, _command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    if argv[:1] == ["sandbox"]:  # the sandbox parses its own options

        return _guarded(lambda: sandbox.main(argv[1:]), debug=debug, as_json=False, port_flag="--port")
    parser = build_parser()
    args = parser.parse_args(argv)

    operator.check_args(parser, args)
    port_flag = "--port or --sandbox-port" if args.command == "demo" else "THESET_HTTP_PORT"
    return _guarded(lambda: args.func(args), debug=debug, as_json=getattr(args, "json", False), port_flag=port_flag)


def _guarded(command: Callable[[], int], *, debug: bool, as_json: bool, port_flag: str) -> int:
    """Run ``command``; a failure becomes one explained line (or JSON), its traceback only with --debug."""
    try:
        return command()
    except KeyboardInterrupt:
        return 130
    except config.ConfigError as exc:
        if debug:
            raise
        return report(Failure("config", f"configuration error: {exc}", exc.variable, config.EXIT_CONFIG), as_json=as_json)
    except Exception as exc:
        if debug:
            raise
        return report(explain(exc, port_flag), as_json=as_json)


if __name__ == "__main__":
    sys.exit(main())
