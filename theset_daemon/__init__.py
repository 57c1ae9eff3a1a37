"""theset-daemon: the background sync daemon of TheSet."""

__version__ = "0.1.0"
