"""The ``theset-daemon`` command: run, config, migrate, sandbox, and the operator verbs
(``queues``, ``queue``, ``jobs``, ``dlq``: see ``admin_cli.py``).

Exit statuses: 0 success, 1 failure, 2 bad usage (a message names the flag),
78 a configuration variable is wrong (the message names it).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Callable, Sequence

import orjson

from . import config, logs

Command = Callable[[argparse.Namespace], int]


def _run(args: argparse.Namespace) -> int:
    import uvloop

    from .daemon import Daemon

    settings = config.load()
    settings.check_serving()
    logs.setup(settings.log_level, settings.secrets)
    return uvloop.run(Daemon(settings, migrate=not args.no_migrate).run())


def _config(args: argparse.Namespace) -> int:
    shown = config.load().masked()
    if args.json:
        print(orjson.dumps(shown, option=orjson.OPT_INDENT_2).decode())
    else:
        width = max(map(len, shown))
        for name, value in shown.items():
            print(f"{name:<{width}}  {','.join(value) if isinstance(value, list) else value}")
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from .db.migrate import migrate

    settings = config.load()
    applied = asyncio.run(migrate(settings.database_url))
    print(f"applied {len(applied)} migration(s)" + (": " + ", ".join(applied) if applied else ""))
    return 0


def _import(args: argparse.Namespace) -> int:
    from .follow import KickoffRefused, ProgressBars, follow_events, start_import

    settings = config.load()
    base_url = args.url or f"http://{settings.http_host}:{settings.http_port}"
    token = settings.api_token
    if not token:
        print("theset-daemon: THESET_API_TOKEN is not set; the import API needs it", file=sys.stderr)
        return config.EXIT_CONFIG

    async def go() -> int:
        import aiohttp

        async with aiohttp.ClientSession() as session:
            try:
                started = await start_import(session, base_url, token, args.attraction_id)
            except KickoffRefused as exc:
                print(f"theset-daemon: import refused: {exc}", file=sys.stderr)
                return 1
            except aiohttp.ClientConnectionError as exc:
                print(f"theset-daemon: no daemon answering at {base_url} (--url): {exc}", file=sys.stderr)
                return 1
            print(f"import {started['importId']} ({started['status']})")
            if not args.follow:
                print(orjson.dumps(started, option=orjson.OPT_INDENT_2).decode())
                return 0
            bars, final = ProgressBars(), {}
            async for name, data in follow_events(session, started["eventsUrl"]):
                bars.show(name, data)
                final = data
            return 0 if final.get("status") == "completed" else 1

    return asyncio.run(go())


def _schedules(args: argparse.Namespace) -> int:
    from .db.pool import create_pool
    from .scheduler import load_schedules, schedule_status, schedules_path

    import importlib

    import dramatiq

    from .broker import TheSetBroker

    settings = config.load()
    broker = TheSetBroker(target=settings.redis_target, namespace=settings.redis_namespace)  # never connects here
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

    import asyncpg

    try:
        rows = asyncio.run(go())
    except asyncpg.UndefinedTableError:
        print("theset-daemon: the database has no schedule_fires table; run `theset-daemon migrate`", file=sys.stderr)
        return 1
    if args.json:
        print(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode())
        return 0
    header = ("NAME", "CRON", "QUEUE", "LAST RUN", "OUTCOME", "NEXT RUN")
    table = [header] + [
        (r["name"], r["cron"] + ("" if r["timezone"] == "UTC" else f" ({r['timezone']})"), r["queue"],
         r["last_fire"] or "never", r["last_outcome"] or "-", r["next_fire"] or "-")
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    return 0


def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="theset-daemon", description="TheSet sync daemon")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the daemon (workers, scheduler, side server) until SIGTERM")
    run.add_argument("--no-migrate", action="store_true", help="do not apply pending migrations at boot")
    run.set_defaults(func=_run)

    show = sub.add_parser("config", help="print the effective configuration, secrets masked")
    show.add_argument("--json", action="store_true", help="print JSON instead of a table")
    show.set_defaults(func=_config)

    sub.add_parser("migrate", help="apply pending sql/ migrations (safe on many hosts at once)").set_defaults(
        func=_migrate
    )

    start = sub.add_parser("import", help="start an artist import through the daemon's API")
    start.add_argument("attraction_id", help="the Ticketmaster attraction id of the artist")
    start.add_argument("--follow", action="store_true", help="show live progress bars until the import ends")
    start.add_argument("--url", help="the daemon's base URL (default: THESET_HTTP_HOST:THESET_HTTP_PORT)")
    start.set_defaults(func=_import)

    schedules = sub.add_parser("schedules", help="list the recurring jobs with their last and next run")
    schedules.add_argument("--json", action="store_true", help="print JSON instead of a table")
    schedules.set_defaults(func=_schedules)

    demo = sub.add_parser("demo", help="sandbox + daemon + a demo artist imported with live progress")
    demo.add_argument("--port", type=int, default=8080, help="the daemon's HTTP port (default 8080)")
    demo.add_argument("--sandbox-port", type=int, default=8090, help="the sandbox's HTTP port (default 8090)")
    demo.add_argument("--artist", help="Ticketmaster attraction id to import (default: the sandbox's demo artist)")
    demo.add_argument("--exit", action="store_true", help="stop everything after the import instead of serving on")
    demo.set_defaults(func=_demo)

    sub.add_parser("sandbox", help="serve the local Spotify / Ticketmaster / setlist.fm sandbox (see sandbox --help)")

    from . import admin_cli

    admin_cli.add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["sandbox"]:  # the sandbox parses its own options
        from . import sandbox

        return sandbox.main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    from . import admin_cli

    admin_cli.check_args(parser, args)
    try:
        return args.func(args)
    except config.ConfigError as exc:
        print(f"theset-daemon: configuration error: {exc}", file=sys.stderr)
        return config.EXIT_CONFIG
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
