"""How a benchmark prints its figures: one JSON object (``--json``), or aligned lines."""

from __future__ import annotations

import json
from collections.abc import Mapping


def print_figures(result: Mapping[str, object], *, as_json: bool, width: int) -> None:
    """``result`` as one JSON object, or one ``key: value`` line each, keys right-aligned
    to ``width``."""
    if as_json:
        print(json.dumps(result))
        return
    for key, value in result.items():
        print(f"{key:>{width}}: {value}")


def print_json(result: Mapping[str, object], *, as_json: bool) -> None:
    """``result`` as one JSON line (``--json``), or indented for reading."""
    print(json.dumps(result) if as_json else json.dumps(result, indent=2))
