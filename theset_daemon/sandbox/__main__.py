"""``python -m theset_daemon.sandbox``: the same as ``theset-daemon sandbox``."""

import sys

from .app import main

sys.exit(main(sys.argv[1:]))
