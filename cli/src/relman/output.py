"""Where things go: results on stdout (a table or summary, or exactly one JSON document), messages on stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

MODE = {"output": "text"}
"""`text` or `json`, set by `--output` (or RELMAN_OUTPUT)."""


def is_json() -> bool:
    return MODE["output"] == "json"


def say(message: str) -> None:
    """A message for the person or the log: always stderr, so stdout stays the result."""
    print(message, file=sys.stderr, flush=True)


def result(document: Any, render: Callable[[Any], str] | None = None) -> None:
    """The command's result: the JSON document as is, or its rendering for people."""
    if is_json():
        sys.stdout.write(json.dumps(document, indent=2, sort_keys=False, default=str) + "\n")
    else:
        text = render(document) if render is not None else json.dumps(document, indent=2, default=str)
        if text:
            sys.stdout.write(text.rstrip("\n") + "\n")
    sys.stdout.flush()


def table(rows: Iterable[dict[str, Any]], columns: Sequence[str]) -> str:
    """Aligned columns with a header; empty cells as `-`."""
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    if not cells:
        return "(none)"
    widths = [max(len(column), *(len(line[i]) for line in cells)) for i, column in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip() for line in cells]
    return "\n".join(lines)


def summary(pairs: Sequence[tuple[str, Any]]) -> str:
    """`label: value` lines, labels aligned, empty values left out."""
    shown = [(label, _cell(value)) for label, value in pairs if value not in (None, "", [], {})]
    width = max((len(label) for label, _ in shown), default=0)
    return "\n".join(f"{label + ':':<{width + 1}} {value}" for label, value in shown)


def _cell(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
