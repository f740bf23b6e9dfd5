"""Reading a pipeline spec file for ``aios pipelines deploy``: YAML or JSON, either the spec
itself (``name``, ``nodes``, ``edges``) or an agent config whose ``pipeline`` section it is."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aios.controlplane.errors import ControlPlaneError


def read_spec(path: Path) -> dict[str, Any]:
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ControlPlaneError(f"{path}: {exc.strerror}") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ControlPlaneError(f"{path}: not valid YAML/JSON: {exc}") from None
    if isinstance(data, dict) and isinstance(data.get("pipeline"), dict):
        data = data["pipeline"]
    if not isinstance(data, dict) or "nodes" not in data:
        raise ControlPlaneError(f"{path}: no pipeline (a mapping with nodes and edges)")
    return {str(k): v for k, v in data.items()}
