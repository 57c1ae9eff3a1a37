"""``python -m theset_daemon``: the ``theset-daemon`` command."""

import sys

from .cli.main import main

sys.exit(main())
