"""The provider sandbox: Spotify, Ticketmaster and setlist.fm on loopback, with ground truth.

    async with run_sandbox(seed=7, spotify_profile="dev-2026") as sb:
        settings = config.load({**os.environ, **sb.settings_env()})
        truth = sb.truth.artist(sb.truth.demo_attraction_id)

``main(argv)`` is the ``theset-daemon sandbox`` command.
"""

from .app import RunningSandbox, Sandbox, create_app, main, run_sandbox, serve
from .data import World
from .options import SandboxOptions
from .truth import ArtistTruth, Truth

__all__ = [
    "ArtistTruth",
    "RunningSandbox",
    "Sandbox",
    "SandboxOptions",
    "Truth",
    "World",
    "create_app",
    "main",
    "run_sandbox",
    "serve",
]
