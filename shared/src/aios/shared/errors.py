"""Errors raised by :mod:`aios.shared`.

:class:`ContractError` is the root of every exception this package raises, so a caller can
catch the contract's failures in one place without catching unrelated ones.
"""

from __future__ import annotations


class ContractError(Exception):
    """Root exception of ``aios.shared``."""


class TopicError(ContractError, ValueError):
    """A topic could not be built or parsed (bad identifier, wrong prefix, unknown channel)."""


class PipelineValidationError(ContractError, ValueError):
    """A pipeline spec is invalid.

    ``node`` is the id of the offending node (or ``None`` when the problem is not tied to one
    node), ``field`` the dotted path of the offending field inside it, ``message`` the reason.
    """

    def __init__(self, message: str, *, node: str | None = None, field: str | None = None) -> None:
        self.message = message
        self.node = node
        self.field = field
        where = ""
        if node is not None:
            where = f"node {node!r}"
            if field:
                where += f", field {field!r}"
        elif field:
            where = f"field {field!r}"
        super().__init__(f"{where}: {message}" if where else message)
