"""An explicit registry of factories by ``kind``, which refuses a second registration of a kind.

The node registry (:mod:`aios.agent.pipeline.registry`) and the camera registry
(:mod:`aios.agent.sources.registry`) build on it; nothing registers by import side effect.
"""

from __future__ import annotations

from typing import ClassVar, Generic, TypeVar

F = TypeVar("F")


class Registry(Generic[F]):
    noun: ClassVar[str] = "kind"
    """What a kind is called in the duplicate-registration error."""

    def __init__(self) -> None:
        self._factories: dict[str, F] = {}

    def register(self, kind: str, factory: F) -> None:
        if kind in self._factories:
            raise ValueError(f"{self.noun} {kind!r} is already registered")
        self._factories[kind] = factory

    def lookup(self, kind: str) -> F | None:
        return self._factories.get(kind)

    def kinds(self) -> list[str]:
        return sorted(self._factories)
