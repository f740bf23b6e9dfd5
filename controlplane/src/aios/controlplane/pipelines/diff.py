"""Structural diff of two pipeline specs, naming nodes by id and edges by their ends."""

from __future__ import annotations

from aios.controlplane.pipelines.schemas import Change


def _keyed(value: object, key: str) -> object:
    """Lists of nodes/edges become mappings keyed by identity, so a reorder is no change."""
    if key == "nodes" and isinstance(value, list):
        return {str(n.get("id")): n for n in value if isinstance(n, dict)}
    if key == "edges" and isinstance(value, list):
        return {f"{e.get('source')}->{e.get('target')}": e for e in value if isinstance(e, dict)}
    return value


def diff_specs(before: object, after: object, path: str = "") -> list[Change]:
    """Every added, removed and changed leaf between ``before`` and ``after``."""
    if isinstance(before, dict) and isinstance(after, dict):
        changes: list[Change] = []
        for key in sorted(set(before) | set(after), key=str):
            sub = f"{path}.{key}" if path else str(key)
            if path in ("nodes", "edges"):
                sub = f"{path}[{key}]"
            if key not in after:
                changes.append(Change(path=sub, op="removed", before=before[key]))
            elif key not in before:
                changes.append(Change(path=sub, op="added", after=after[key]))
            else:
                changes.extend(diff_specs(_keyed(before[key], key), _keyed(after[key], key), sub))
        return changes
    if before != after:
        return [Change(path=path, op="changed", before=before, after=after)]
    return []
