"""The shared settings loader: each kind of conversion and of error, secrets from files, unknown
variables, and the reference it lists (:mod:`aios.shared.envvars`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import msgspec
import pytest

from aios.shared import envvars
from aios.shared.envvars import EnvVarError, Secret, describe


def _upper(raw: str) -> str:
    if not raw.isalpha():
        raise ValueError("must be letters only")
    return raw.upper()


class Tls(msgspec.Struct, frozen=True, kw_only=True):
    ca: Annotated[Path | None, describe("CA bundle")] = None


# fmt: off
class Demo(msgspec.Struct, frozen=True, kw_only=True):
    count: Annotated[int, describe("a count", ge=1, le=10)] = 3
    ratio: Annotated[float, describe("a ratio", gt=0)] = 0.5
    flag: Annotated[bool, describe("a flag")] = False
    level: Annotated[Literal["DEBUG", "INFO"], describe("a level")] = "INFO"
    mode: Annotated[Literal["a", "b"], describe("a mode")] = "a"
    names: Annotated[tuple[str, ...], describe("a list")] = ()
    folder: Annotated[Path, describe("a folder")] = Path("data")
    token: Annotated[Secret | None, describe("a secret")] = None
    word: Annotated[str, describe("a word", parse=_upper)] = "X"
    renamed: Annotated[int, describe("an int under another name", env="OTHER")] = 1
    computed: Annotated[str, describe("set in code", internal=True)] = ""
    tls: Tls = Tls()
# fmt: on

PREFIX = "T_"


@pytest.mark.parametrize(
    ("name", "raw", "field", "value"),
    [
        ("T_COUNT", "7", "count", 7),
        ("T_COUNT", " 7 ", "count", 7),
        ("T_RATIO", "2", "ratio", 2.0),
        ("T_RATIO", "1e-3", "ratio", 0.001),
        *[("T_FLAG", raw, "flag", True) for raw in ("true", "TRUE", "1", "yes", "On")],
        *[("T_FLAG", raw, "flag", False) for raw in ("false", "0", "no", "OFF")],
        ("T_LEVEL", "debug", "level", "DEBUG"),  # upper-case choices ignore case
        ("T_MODE", "b", "mode", "b"),
        ("T_NAMES", "a, b,,c ", "names", ("a", "b", "c")),
        ("T_NAMES", "", "names", ()),  # empty: unset, the default
        ("T_FOLDER", "~/x", "folder", Path("~/x").expanduser()),
        ("T_WORD", "abc", "word", "ABC"),
        ("T_OTHER", "5", "renamed", 5),
        ("T_COUNT", "", "count", 3),
    ],
)
def test_conversions(name: str, raw: str, field: str, value: object) -> None:
    assert getattr(envvars.read(Demo, {name: raw}, PREFIX), field) == value


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        ("T_COUNT", "0", "T_COUNT: must be an integer >= 1 (got '0')"),
        ("T_COUNT", "11", "T_COUNT: must be an integer <= 10 (got '11')"),
        ("T_COUNT", "many", "T_COUNT: must be an integer (got 'many')"),
        ("T_COUNT", "1.5", "T_COUNT: must be an integer (got '1.5')"),
        ("T_RATIO", "0", "T_RATIO: must be a number > 0.0 (got '0')"),
        ("T_RATIO", "x", "T_RATIO: must be a number (got 'x')"),
        ("T_FLAG", "maybe", "T_FLAG: must be true or false (got 'maybe')"),
        ("T_LEVEL", "loud", "T_LEVEL: must be one of DEBUG, INFO (got 'LOUD')"),
        ("T_MODE", "A", "T_MODE: must be one of a, b (got 'A')"),  # lower-case: exact
        ("T_WORD", "a1", "T_WORD: must be letters only"),
    ],
)
def test_errors_are_one_line_naming_the_variable(name: str, raw: str, message: str) -> None:
    with pytest.raises(EnvVarError) as err:
        envvars.read(Demo, {name: raw}, PREFIX)
    assert str(err.value) == message
    assert err.value.name == name


def test_nested_sections_and_internal_fields() -> None:
    found = envvars.overrides(Demo, {"T_TLS_CA": "/ca.pem", "T_COMPUTED": "x"}, PREFIX)
    assert found == {"tls": {"ca": Path("/ca.pem")}}


def test_secret_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("s3cret\n")
    loaded = envvars.read(Demo, {"T_TOKEN_FILE": str(tmp_path / "token")}, PREFIX)
    assert loaded.token == Secret("s3cret")
    assert "s3cret" not in repr(loaded)


@pytest.mark.parametrize(
    ("environ", "name", "message"),
    [
        ({"T_TOKEN": "a", "T_TOKEN_FILE": "{tmp}/token"}, "T_TOKEN", "not both"),
        ({"T_TOKEN_FILE": "{tmp}/missing"}, "T_TOKEN_FILE", "cannot read"),
        ({"T_TOKEN_FILE": "{tmp}/empty"}, "T_TOKEN_FILE", "is empty"),
        ({"T_COUNT_FILE": "{tmp}/token"}, None, None),  # not a secret: no file variant
    ],
)
def test_secret_file_errors(
    tmp_path: Path, environ: dict[str, str], name: str | None, message: str | None
) -> None:
    (tmp_path / "token").write_text("7")
    (tmp_path / "empty").write_text("\n")
    environ = {k: v.format(tmp=tmp_path) for k, v in environ.items()}
    if name is None:
        assert envvars.read(Demo, environ, PREFIX).count == 3
        return
    with pytest.raises(EnvVarError, match=message) as err:
        envvars.read(Demo, environ, PREFIX)
    assert err.value.name == name


def test_a_secret_value_is_never_echoed() -> None:
    class Strict(msgspec.Struct, frozen=True, kw_only=True):
        pin: Annotated[str, describe("a pin", pattern="^[0-9]+$", secret=True)] = "0"

    with pytest.raises(EnvVarError) as err:
        envvars.read(Strict, {"T_PIN": "hunter2"}, PREFIX)
    assert "hunter2" not in str(err.value)


def test_unknown_variables_are_reported_with_the_closest_name() -> None:
    known = envvars.names(Demo, PREFIX)
    assert {"T_TOKEN", "T_TOKEN_FILE", "T_OTHER", "T_TLS_CA"} <= known
    assert "T_COUNT_FILE" not in known
    assert "T_COMPUTED" not in known
    lines = envvars.unknown({"T_CUONT": "1", "T_COUNT": "1", "OTHER_X": "1"}, PREFIX, known)
    assert lines == ["T_CUONT is not a setting and is ignored (did you mean T_COUNT?)"]


def test_reference_lists_every_declaration() -> None:
    listed = {v.name: v for v in envvars.variables(Demo, PREFIX)}
    assert set(listed) == envvars.names(Demo, PREFIX) - {"T_TOKEN_FILE"}
    assert (listed["T_COUNT"].kind, listed["T_COUNT"].default) == ("integer 1..10", "3")
    assert listed["T_FLAG"].default == "false"
    assert listed["T_TOKEN"].secret
    assert listed["T_TLS_CA"].path == ("tls", "ca")
    assert listed["T_LEVEL"].description == "a level"
