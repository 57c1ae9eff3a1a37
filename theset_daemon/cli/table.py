"""The one way the command prints a table: left-aligned columns two spaces apart."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def print_table(header: tuple[str, ...], rows: Iterable[tuple[Any, ...]]) -> None:
    """Print ``header`` and ``rows`` in aligned columns (``None`` shows as ``-``)."""
    table = [header] + [tuple("-" if c is None else str(c) for c in row) for row in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


def print_fields(fields: Mapping[str, Any]) -> None:
    """Print one ``name  value`` line per field, the values aligned (``None`` shows as ``-``)."""
    width = max(map(len, fields), default=0)
    for name, value in fields.items():
        print(f"{name:<{width}}  {'-' if value is None else value}")
