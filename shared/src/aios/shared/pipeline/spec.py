"""The pipeline DAG and its validation, shared so the control plane and the agent agree.

:func:`decode_pipeline` turns untrusted JSON (or an already-parsed mapping from YAML/TOML) into
a validated :class:`PipelineSpec`, or raises :class:`PipelineValidationError` naming the node
and the field.
"""

from __future__ import annotations

import re
from collections import defaultdict, deque
from typing import Annotated, Any

import msgspec
from msgspec import Meta, Struct

from aios.shared.errors import PipelineValidationError
from aios.shared.pipeline.nodes import (
    ALLOWED_INPUTS,
    NODE_TYPE_OF,
    NODE_TYPES,
    LineNode,
    Node,
    NodeId,
    RuleNode,
)


class Edge(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Data flows from node ``source`` to node ``target``."""

    source: NodeId
    target: NodeId


class PipelineSpec(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A pipeline: nodes and the edges between them (a DAG)."""

    name: Annotated[str, Meta(min_length=1, max_length=128)]
    nodes: Annotated[list[Node], Meta(min_length=1, max_length=256)]
    edges: Annotated[list[Edge], Meta(max_length=1024)] = []

    def node(self, node_id: str) -> Node:
        for n in self.nodes:
            if n.id == node_id:
                return n
        raise KeyError(node_id)

    def inputs(self, node_id: str) -> list[str]:
        return [e.source for e in self.edges if e.target == node_id]

    def outputs(self, node_id: str) -> list[str]:
        return [e.target for e in self.edges if e.source == node_id]

    def topological_order(self) -> list[str]:
        """Node ids sourced-first. Assumes the spec was validated (no cycles)."""
        order, _ = _kahn(self)
        return order


def node_type(node: Node) -> str:
    return NODE_TYPE_OF[type(node)]


_PATH = re.compile(r"at `\$(?P<path>[^`]*)`")
_NODE_PATH = re.compile(r"\.nodes\[(?P<index>\d+)\](?:\.(?P<rest>.*))?")  # fullmatch
_EDGE_PATH = re.compile(r"\.edges\[(?P<index>\d+)\](?:\.(?P<rest>.*))?")


def _locate(error: msgspec.ValidationError, raw: object) -> PipelineValidationError:
    """Translate msgspec's ``... - at `$.nodes[1].params.conf``` into node id + field."""
    text = str(error)
    match = _PATH.search(text)
    reason = _PATH.sub("", text).rstrip(" -") or text
    if match is None:
        return PipelineValidationError(reason)
    path = match.group("path")
    node_match = _NODE_PATH.fullmatch(path)
    if node_match is not None:
        index = int(node_match.group("index"))
        field = node_match.group("rest")
        node_id: str = f"#{index}"
        if isinstance(raw, dict):
            nodes = raw.get("nodes")
            if isinstance(nodes, list) and index < len(nodes) and isinstance(nodes[index], dict):
                candidate = nodes[index].get("id")
                if isinstance(candidate, str):
                    node_id = candidate
                kind = nodes[index].get("type")
                if field in (None, "type") and isinstance(kind, str) and kind not in NODE_TYPES:
                    known = ", ".join(sorted(NODE_TYPES))
                    return PipelineValidationError(
                        f"unknown node type {kind!r} (known: {known})", node=node_id, field="type"
                    )
        return PipelineValidationError(reason, node=node_id, field=field)
    edge_match = _EDGE_PATH.fullmatch(path)
    if edge_match is not None:
        rest = edge_match.group("rest")
        field = f"edges[{edge_match.group('index')}]" + (f".{rest}" if rest else "")
        return PipelineValidationError(reason, field=field)
    return PipelineValidationError(reason, field=path.lstrip(".") or None)


_DECODER = msgspec.json.Decoder(PipelineSpec)


def decode_pipeline(data: bytes | str | dict[str, Any]) -> PipelineSpec:
    """Decode and validate a pipeline from JSON bytes/text or a parsed mapping."""
    raw: object = None
    try:
        if isinstance(data, dict):
            raw = data
            spec = msgspec.convert(data, PipelineSpec)
        else:
            spec = _DECODER.decode(data)
    except msgspec.ValidationError as exc:
        if not isinstance(data, dict):
            try:
                raw = msgspec.json.decode(data)
            except msgspec.DecodeError:
                raw = None
        raise _locate(exc, raw) from None
    except msgspec.DecodeError as exc:
        raise PipelineValidationError(f"not valid JSON: {exc}") from None
    validate_pipeline(spec)
    return spec


def _kahn(spec: PipelineSpec) -> tuple[list[str], set[str]]:
    indegree: dict[str, int] = {n.id: 0 for n in spec.nodes}
    out: dict[str, list[str]] = defaultdict(list)
    for e in spec.edges:
        out[e.source].append(e.target)
        indegree[e.target] += 1
    queue = deque(n.id for n in spec.nodes if indegree[n.id] == 0)
    order: list[str] = []
    while queue:
        current = queue.popleft()
        order.append(current)
        for nxt in out[current]:
            indegree[nxt] -= 1
            if indegree[nxt] == 0:
                queue.append(nxt)
    remaining = {k for k, v in indegree.items() if v > 0}
    return order, remaining


def validate_pipeline(spec: PipelineSpec) -> None:
    """Graph rules that a schema cannot express; raises :class:`PipelineValidationError`."""
    types: dict[str, str] = {}
    for n in spec.nodes:
        if n.id in types:
            raise PipelineValidationError("duplicate node id", node=n.id, field="id")
        types[n.id] = node_type(n)

    seen_edges: set[tuple[str, str]] = set()
    for i, e in enumerate(spec.edges):
        for end, name in ((e.source, "source"), (e.target, "target")):
            if end not in types:
                raise PipelineValidationError(
                    f"edge refers to unknown node {end!r}", field=f"edges[{i}].{name}"
                )
        if e.source == e.target:
            raise PipelineValidationError("edge from a node to itself", node=e.source)
        if (e.source, e.target) in seen_edges:
            raise PipelineValidationError(
                f"duplicate edge {e.source!r} -> {e.target!r}", field=f"edges[{i}]"
            )
        seen_edges.add((e.source, e.target))
        allowed = ALLOWED_INPUTS[types[e.target]]
        if types[e.source] not in allowed:
            accepted = ", ".join(sorted(allowed)) or "nothing"
            raise PipelineValidationError(
                f"a {types[e.target]} node cannot take input from a {types[e.source]} node "
                f"({e.source!r}); it accepts: {accepted}",
                node=e.target,
            )

    _, cyclic = _kahn(spec)
    if cyclic:
        raise PipelineValidationError(f"cycle through nodes {sorted(cyclic)}", node=min(cyclic))

    if "source" not in types.values():
        raise PipelineValidationError("a pipeline needs at least one source node", field="nodes")
    for n in spec.nodes:
        kind = types[n.id]
        ins = [e.source for e in spec.edges if e.target == n.id]
        if kind != "source" and not ins:
            raise PipelineValidationError(f"{kind} node has no input edge", node=n.id)
        if kind == "line" and len(ins) > 1:
            raise PipelineValidationError(f"{kind} node takes exactly one input", node=n.id)
        _validate_params(n, [types[i] for i in ins])


def _validate_params(node: Node, input_types: list[str]) -> None:
    if isinstance(node, LineNode) and node.params.start == node.params.end:
        raise PipelineValidationError(
            "line start and end are the same point", node=node.id, field="params.end"
        )
    if isinstance(node, RuleNode):
        p = node.params
        if p.condition == "dwell" and p.dwell_s is None:
            raise PipelineValidationError(
                "a dwell rule needs dwell_s", node=node.id, field="params.dwell_s"
            )
        if p.condition == "line_count" and "line" not in input_types:
            raise PipelineValidationError(
                "a line_count rule needs a line node as input",
                node=node.id,
                field="params.condition",
            )
        if p.condition == "dwell" and "track" not in input_types and "zone" not in input_types:
            raise PipelineValidationError(
                "a dwell rule needs tracked input (a track or zone node)",
                node=node.id,
                field="params.condition",
            )
