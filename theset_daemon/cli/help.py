"""How the ``theset-daemon`` command explains its own usage.

:class:`Parser` is argparse's parser with a "did you mean" for a mistyped
command, choice or flag (difflib; argparse's own ``suggest_on_error`` needs
Python 3.14), and :func:`environment` writes the "reads" lines each
subcommand's ``--help`` ends with.
"""

from __future__ import annotations

import argparse
import difflib
import re
from typing import Iterator, NoReturn

from ..runtime import config

#: What every subcommand help prints its description and environment with.
FORMATTER = argparse.RawDescriptionHelpFormatter


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors suggest the closest valid word."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", FORMATTER)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        hint = suggestion(self, message)
        super().error(message + (f"; did you mean {hint!r}?" if hint else ""))


def suggestion(parser: argparse.ArgumentParser, message: str) -> str | None:
    """The valid word closest to the one argparse complained about, if one is close."""
    if match := re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message):
        word, choices = match.group(1), re.findall(r"'([^']*)'", match.group(2))
    elif match := re.search(r"unrecognized arguments: (\S+)", message):
        word, choices = match.group(1), sorted(set(_options(parser)))
    else:
        return None
    close = difflib.get_close_matches(word, [c for c in choices if c != word], n=1, cutoff=0.6)
    return close[0] if close else None


def _options(parser: argparse.ArgumentParser) -> Iterator[str]:
    """Every option string of ``parser`` and its subcommands."""
    for action in parser._actions:
        yield from action.option_strings
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _options(sub)


def environment(*names: str) -> str:
    """The epilog naming the variables a subcommand reads (``names`` without ``THESET_``, or ``*``)."""
    if names == ("*",):
        return ("environment: every THESET_* variable (`theset-daemon config` lists them with their values);\n"
                "secrets and the Redis/PostgreSQL URLs may come from THESET_X_FILE or $CREDENTIALS_DIRECTORY/<x>")
    known = {var.env for var in config.VARIABLES.values()}
    variables = [f"THESET_{name}" for name in names]
    unknown = [v for v in variables if v not in known]
    assert not unknown, f"not configuration variables: {unknown}"
    return "environment: " + ", ".join(variables)
