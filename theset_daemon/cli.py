"""The ``theset-daemon`` command: run, config, migrate, sandbox, and the operator verbs.

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


def _sandbox(args: argparse.Namespace) -> int:
    from . import sandbox

    return sandbox.main(args.sandbox_args)


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

    sandbox = sub.add_parser("sandbox", help="serve the local Spotify / Ticketmaster / setlist.fm sandbox", add_help=False)
    sandbox.add_argument("sandbox_args", nargs=argparse.REMAINDER)
    sandbox.set_defaults(func=_sandbox)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except config.ConfigError as exc:
        print(f"theset-daemon: configuration error: {exc}", file=sys.stderr)
        return config.EXIT_CONFIG
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
