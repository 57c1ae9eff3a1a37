"""``python -m theset_daemon``: the ``theset-daemon`` command."""

import sys

from .cli import main

sys.exit(main())
