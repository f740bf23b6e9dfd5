"""Settings from environment variables: the one loader the agent and the control plane share.

A settings Struct declares each setting once, on one field: its type (with ``msgspec.Meta``
constraints), its default and ``Meta(description=...)``. The variable is the prefix plus the
field's path in upper case (``mqtt.url`` under ``AIOS_AGENT_`` is ``AIOS_AGENT_MQTT_URL``);
nested Structs are sections. :func:`read` converts each variable into its field's type with
``msgspec.convert(strict=False)``, after reading the string the same way on both sides:

- an empty variable counts as unset (the default applies);
- a boolean is ``true``/``false``, ``1``/``0``, ``yes``/``no`` or ``on``/``off``, any case;
- a tuple is a comma-separated list (blank items dropped);
- a choice whose values are all upper case ignores case (``AIOS_LOG_LEVEL=debug``);
- a secret (a :class:`Secret` field, or one marked ``secret``) may instead come from
  ``NAME_FILE``, a file holding it (Docker and Kubernetes secrets), not both.

``Meta(extra=...)`` keys: ``env`` (the variable's name after the prefix, where it is not the
field's path), ``parse`` (a function from the string to the value to convert, raising
``ValueError`` with the reason), ``internal`` (no variable: set in code), ``default_doc`` (what
the reference says of a default computed at start-up), ``secret``.

Every failure is an :class:`EnvVarError` naming the variable. :func:`variables` lists the
declarations for the generated reference (``scripts/settings_reference.py``).
"""

from __future__ import annotations

import difflib
import secrets
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

import msgspec
from msgspec import inspect

from aios.shared.errors import ContractError

S = TypeVar("S", bound=msgspec.Struct)

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_WORDS = {"int": "an integer", "float": "a number", "str": "a string"}


class EnvVarError(ContractError, ValueError):
    """An environment variable has a value its setting refuses; ``name`` is the variable."""

    def __init__(self, name: str, message: str) -> None:
        self.name = name
        self.message = message
        super().__init__(f"{name}: {message}")


class Secret:
    """A secret string that never shows up in a repr or a log line."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and secrets.compare_digest(self._value, other._value)

    def __hash__(self) -> int:
        return hash(self._value)


class Variable(msgspec.Struct, frozen=True, kw_only=True):
    """One declared variable, as the reference shows it."""

    name: str
    path: tuple[str, ...]
    """The field's path in the Struct (``("mqtt", "url")``)."""
    kind: str
    default: str
    """The default value, as the variable would be written ("" for none)."""
    computed: str
    """What the default is when it is computed at start-up (``default_doc``), else ""."""
    description: str
    secret: bool


class _Field(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    path: tuple[str, ...]
    annotation: Any
    core: inspect.Type
    extra: dict[str, Any]
    description: str
    default: object


_CONSTRAINTS = ("ge", "gt", "le", "lt", "pattern", "min_length", "max_length")


def describe(description: str, **keys: Any) -> msgspec.Meta:
    """A setting's ``Meta``: its description, its constraints (``ge``, ``le``, ``pattern``...,
    as ``Meta`` takes them) and this module's ``extra`` keys (``env``, ``parse``...)."""
    constraints = {k: keys.pop(k) for k in _CONSTRAINTS if k in keys}
    return msgspec.Meta(description=description, extra=keys or None, **constraints)


def _unwrap(t: inspect.Type) -> tuple[inspect.Type, dict[str, Any], str]:
    """The type under ``Annotated``/``Optional`` layers, with their extra and description."""
    extra: dict[str, Any] = {}
    description = ""
    while True:
        if isinstance(t, inspect.Metadata):
            extra.update(t.extra or {})
            description = str((t.extra_json_schema or {}).get("description", description))
            t = t.type
        elif isinstance(t, inspect.UnionType):
            rest = [x for x in t.types if not isinstance(x, inspect.NoneType)]
            if len(rest) != 1:
                return t, extra, description
            t = rest[0]
        else:
            return t, extra, description


def _fields(cls: type[msgspec.Struct], prefix: str, path: tuple[str, ...] = ()) -> Iterator[_Field]:
    annotations = {f.name: f for f in msgspec.structs.fields(cls)}
    info = inspect.type_info(cls)
    assert isinstance(info, inspect.StructType)
    for field in info.fields:
        core, extra, description = _unwrap(field.type)
        if extra.get("internal"):
            continue
        here = (*path, field.name)
        if isinstance(core, inspect.StructType):
            yield from _fields(core.cls, prefix, here)
            continue
        default = field.default
        if default is msgspec.NODEFAULT and field.default_factory is not msgspec.NODEFAULT:
            default = field.default_factory()
        yield _Field(
            name=prefix + str(extra.get("env") or "_".join(here).upper()),
            path=here,
            annotation=annotations[field.name].type,
            core=core,
            extra=extra,
            description=description,
            default=default,
        )


def _is_secret(field: _Field) -> bool:
    return bool(field.extra.get("secret")) or (
        isinstance(field.core, inspect.CustomType) and field.core.cls is Secret
    )


def _raw(environ: Mapping[str, str], field: _Field) -> str | None:
    value = environ.get(field.name) or None
    if not _is_secret(field):
        return value
    file_var = f"{field.name}_FILE"
    path = environ.get(file_var)
    if value and path:
        raise EnvVarError(field.name, f"set either {field.name} or {file_var}, not both")
    if not path:
        return value
    try:
        value = Path(path).expanduser().read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise EnvVarError(file_var, f"cannot read {path}: {exc.strerror}") from None
    if not value:
        raise EnvVarError(file_var, f"{path} is empty")
    return value


def _prepare(field: _Field, raw: str) -> object:
    parse: Callable[[str], object] | None = field.extra.get("parse")
    if parse is not None:
        return parse(raw)
    core = field.core
    if isinstance(core, (inspect.IntType, inspect.FloatType)):
        return raw.strip()
    if isinstance(core, inspect.BoolType):
        lowered = raw.strip().lower()
        if lowered in _TRUE | _FALSE:
            return lowered in _TRUE
        raise ValueError(f"must be true or false (got {raw!r})")
    if isinstance(core, (inspect.VarTupleType, inspect.ListType)):
        return [item.strip() for item in raw.split(",") if item.strip()]
    if isinstance(core, inspect.LiteralType):
        if all(isinstance(v, str) and v.isupper() for v in core.values):
            raw = raw.upper()
        if raw not in core.values:
            allowed = ", ".join(str(v) for v in core.values)
            raise ValueError(f"must be one of {allowed} (got {raw!r})")
    return raw


def _decode(type_: type, obj: object) -> object:
    if type_ is Path and isinstance(obj, str):
        return Path(obj).expanduser()
    if type_ is Secret and isinstance(obj, str):
        return Secret(obj)
    # msgspec's dec_hook protocol: "not a type this hook converts", reported by msgspec as a
    # type error naming the field.
    raise NotImplementedError


def _convert(field: _Field, raw: str) -> object:
    shown = "" if _is_secret(field) else f" (got {raw!r})"
    try:
        value = _prepare(field, raw)
        return msgspec.convert(value, field.annotation, strict=False, dec_hook=_decode)
    except msgspec.ValidationError as exc:
        reason = str(exc).split(" - at `$", 1)[0].replace(", got `str`", "")
        for word, says in _WORDS.items():
            reason = reason.replace(f"Expected `{word}`", f"must be {says}")
        raise EnvVarError(field.name, f"{reason}{shown}") from None
    except ValueError as exc:
        raise EnvVarError(field.name, str(exc)) from None


def overrides(cls: type[msgspec.Struct], environ: Mapping[str, str], prefix: str) -> dict[str, Any]:
    """The variables set in ``environ``, typed, nested like ``cls`` (``{"mqtt": {"url": ..}}``)."""
    found: dict[str, Any] = {}
    for field in _fields(cls, prefix):
        raw = _raw(environ, field)
        if raw is None:
            continue
        section = found
        for part in field.path[:-1]:
            section = section.setdefault(part, {})
        section[field.path[-1]] = _convert(field, raw)
    return found


def read(cls: type[S], environ: Mapping[str, str], prefix: str) -> S:
    """A flat ``cls`` from the variables in ``environ`` (defaults for the unset ones)."""
    return cls(**overrides(cls, environ, prefix))


def names(cls: type[msgspec.Struct], prefix: str) -> set[str]:
    """Every variable ``cls`` declares, with the ``_FILE`` variants of secrets."""
    found: set[str] = set()
    for field in _fields(cls, prefix):
        found.add(field.name)
        if _is_secret(field):
            found.add(f"{field.name}_FILE")
    return found


def unknown(environ: Mapping[str, str], prefix: str, known: set[str]) -> list[str]:
    """One line per variable that starts with ``prefix`` but is not in ``known`` (a typo, or
    a setting that was removed), suggesting the closest known name."""
    lines: list[str] = []
    for name in sorted(n for n in environ if n.startswith(prefix) and n not in known):
        close = difflib.get_close_matches(name, sorted(known), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        lines.append(f"{name} is not a setting and is ignored{hint}")
    return lines


def _kind(core: inspect.Type) -> str:
    if isinstance(core, inspect.LiteralType):
        return ", ".join(f"`{v}`" for v in core.values)
    if isinstance(core, inspect.IntType):
        low, high = core.ge, core.le
        bounds = f" {low}..{high}" if low is not None and high is not None else ""
        bounds = bounds or (f" >= {low}" if low is not None else "")
        return f"integer{bounds}"
    if isinstance(core, inspect.FloatType):
        bound = f" > {core.gt}" if core.gt is not None else ""
        bound = f" >= {core.ge}" if core.ge is not None else bound
        return f"number{bound}"
    if isinstance(core, inspect.CustomType):
        return "secret" if core.cls is Secret else core.cls.__name__.lower()
    simple = {inspect.BoolType: "boolean", inspect.VarTupleType: "list", inspect.StrType: "string"}
    return simple.get(type(core), type(core).__name__)


def _shown(default: object) -> str:
    if default is None or default == "" or default == () or isinstance(default, Secret):
        return ""
    if isinstance(default, bool):
        return str(default).lower()
    return str(default)


def variables(cls: type[msgspec.Struct], prefix: str) -> list[Variable]:
    """The declarations of ``cls`` in order, for the generated reference."""
    return [
        Variable(
            name=f.name,
            path=f.path,
            kind=_kind(f.core),
            default="" if "default_doc" in f.extra else _shown(f.default),
            computed=str(f.extra.get("default_doc", "")),
            description=f.description,
            secret=_is_secret(f),
        )
        for f in _fields(cls, prefix)
    ]
