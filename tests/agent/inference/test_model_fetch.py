"""Fetching a model end to end against a real local HTTP server: download with sha256 check,
export with a fake Ultralytics exporter in a real subprocess, metadata check, sidecar."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shlex
import socket
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aios.agent.cli import app
from aios.agent.environment import read_environment
from aios.agent.errors import ModelError
from aios.agent.inference import onnx_export
from aios.agent.inference.manifest import direct_onnx_entry
from aios.agent.inference.model_store import fetch, resolve_model

PT_BYTES = b"not really torch weights " * 4000
PT_SHA = hashlib.sha256(PT_BYTES).hexdigest()


@dataclass
class Served:
    """``path -> (status, body, declared Content-Length)``; requests seen, in order."""

    files: dict[str, tuple[int, bytes, int]] = field(default_factory=dict)
    seen: list[str] = field(default_factory=list)


@pytest.fixture
def server() -> Iterator[tuple[str, Served]]:
    served = Served()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            served.seen.append(self.path)
            status, body, length = served.files.get(self.path, (404, b"missing", 7))
            self.send_response(status)
            self.send_header("Content-Length", str(length))
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
            self.close_connection = True

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", served
    finally:
        httpd.shutdown()
        httpd.server_close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _manifest(tmp_path: Path, url: str, sha256: str | None = PT_SHA) -> Path:
    raw = json.loads((Path(__file__).resolve().parents[3] / "models/manifest.json").read_text())
    entry = raw["models"][0]
    entry.update(name="tiny", file="tiny.onnx")
    entry["source"].update(url=url, sha256=sha256)
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(raw))
    return path


def _fake_exporter(tmp_path: Path, produce: Path | None, fail: bool = False) -> str:
    """An exporter command that checks it got the verified .pt, then copies ``produce`` to
    ``{onnx}`` (or exits 1 with a message when ``fail``)."""
    script = tmp_path / "fake_exporter.py"
    script.write_text(
        "import hashlib, shutil, sys\n"
        "pt, onnx, produce = sys.argv[1:4]\n"
        f"assert hashlib.sha256(open(pt, 'rb').read()).hexdigest() == {PT_SHA!r}\n"
        "assert sys.argv[4:] == ['640', '17'], sys.argv\n"
        f"if {fail!r}: sys.exit('exporter exploded: CUDA out of memory')\n"
        "shutil.copyfile(produce, onnx)\n"
    )
    args = [str(script), "{pt}", "{onnx}", str(produce or ""), "{imgsz}", "{opset}"]
    return "{python} " + shlex.join(args)


def _env(tmp_path: Path, manifest: Path, exporter: str | None) -> dict[str, str]:
    env = {"AIOS_AGENT_CACHE_DIR": str(tmp_path / "cache"), "AIOS_AGENT_MANIFEST": str(manifest)}
    if exporter is not None:
        env["AIOS_AGENT_EXPORT_COMMAND"] = exporter
    return env


def _serve_pt(
    tmp_path: Path, server: tuple[str, Served], model_path: Path, path: str = "/tiny.pt"
) -> dict[str, str]:
    """Serve a ``.pt`` at ``path``: the environment of an agent whose manifest points there and
    whose exporter turns it into ``model_path``."""
    url, served = server
    served.files[path] = (200, PT_BYTES, len(PT_BYTES))
    return _env(tmp_path, _manifest(tmp_path, url + path), _fake_exporter(tmp_path, model_path))


def _leftovers(models: Path) -> list[str]:
    return (
        sorted(p.name for p in models.iterdir() if p.name.startswith("."))
        if models.exists()
        else []
    )


def test_fetch_downloads_exports_checks_and_records_a_sidecar(
    tmp_path: Path, server: tuple[str, Served], model_path: Path
) -> None:
    served = server[1]
    env = _serve_pt(tmp_path, server, model_path, "/v8/tiny.pt")

    path = resolve_model("tiny", env=read_environment(env), progress=False)

    models = tmp_path / "cache" / "models"
    assert path == models / "tiny.onnx"
    assert path.read_bytes() == model_path.read_bytes()
    onnx_sha = hashlib.sha256(model_path.read_bytes()).hexdigest()
    assert (models / "tiny.onnx.sha256").read_text() == f"{onnx_sha}  tiny.onnx\n"
    assert (models / "tiny.pt").read_bytes() == PT_BYTES  # kept, verified, for a re-export
    assert _leftovers(models) == []
    # installed: the next resolution is the cache, with no request at all
    assert resolve_model("tiny", env=read_environment(env), progress=False) == path
    assert served.seen == ["/v8/tiny.pt"]


def test_a_corrupted_cache_file_is_detected_and_fetched_again(
    tmp_path: Path, server: tuple[str, Served], model_path: Path
) -> None:
    served = server[1]
    env = _serve_pt(tmp_path, server, model_path)
    path = resolve_model("tiny", env=read_environment(env), progress=False)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))

    with pytest.raises(ModelError, match=r"tiny\.onnx is corrupt"):
        resolve_model("tiny", env=read_environment(env), download=False)
    assert resolve_model("tiny", env=read_environment(env), progress=False) == path
    assert path.read_bytes() == model_path.read_bytes()
    assert served.seen == ["/tiny.pt"]  # the verified .pt in the cache was exported again


@pytest.mark.parametrize(
    ("status", "body", "length", "message"),
    [
        (200, PT_BYTES[:-1] + b"X", len(PT_BYTES), "sha256 mismatch, expected " + PT_SHA),
        (200, PT_BYTES[:1000], len(PT_BYTES), "truncated"),
        (404, b"nope", 4, "HTTP 404"),
    ],
)
def test_bad_downloads_fail_clearly_and_leave_nothing(
    tmp_path: Path,
    server: tuple[str, Served],
    status: int,
    body: bytes,
    length: int,
    message: str,
) -> None:
    url, served = server
    served.files["/tiny.pt"] = (status, body, length)
    env = _env(tmp_path, _manifest(tmp_path, url + "/tiny.pt"), "false")
    with pytest.raises(ModelError, match=message) as info:
        resolve_model("tiny", env=read_environment(env), progress=False)
    assert f"download of {url}/tiny.pt failed" in str(info.value)
    models = tmp_path / "cache" / "models"
    assert sorted(p.name for p in models.iterdir()) == []


def test_offline_error_names_the_cache_path(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/tiny.pt"
    env = _env(tmp_path, _manifest(tmp_path, url), "false")
    with pytest.raises(ModelError) as info:
        resolve_model("tiny", env=read_environment(env), progress=False)
    text = str(info.value)
    cached = tmp_path / "cache" / "models" / "tiny.onnx"
    assert f"Put an Ultralytics YOLOv8 ONNX export at {cached}" in text
    assert "refused" in text.lower()
    assert "AIOS_AGENT_MODEL_PATH" in text


@pytest.mark.parametrize(
    ("exporter", "message"),
    [
        ("fail", "exit code 1 .*exporter exploded: CUDA out of memory"),
        ("junk", "the exported model was refused: .*not a loadable ONNX model"),
        ("nothing", "did not write tiny.onnx"),
    ],
)
def test_export_failures_are_reported_and_install_nothing(
    tmp_path: Path, server: tuple[str, Served], exporter: str, message: str
) -> None:
    url, served = server
    served.files["/tiny.pt"] = (200, PT_BYTES, len(PT_BYTES))
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"junk")
    if exporter == "nothing":
        command = "{python} -c pass"
    else:
        command = _fake_exporter(tmp_path, junk, fail=exporter == "fail")
    env = _env(tmp_path, _manifest(tmp_path, url + "/tiny.pt"), command)
    with pytest.raises(ModelError, match=message):
        resolve_model("tiny", env=read_environment(env), progress=False)
    models = tmp_path / "cache" / "models"
    assert sorted(p.name for p in models.iterdir()) == ["tiny.pt"]


def test_without_ultralytics_fetch_prints_the_install_and_export_command(
    tmp_path: Path, server: tuple[str, Served], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, served = server
    served.files["/tiny.pt"] = (200, PT_BYTES, len(PT_BYTES))
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "ultralytics" else real_find_spec(name, *a),
    )
    empty = tmp_path / "bin"
    empty.mkdir()
    for key, value in _env(tmp_path, _manifest(tmp_path, url + "/tiny.pt"), None).items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AIOS_AGENT_EXPORT_COMMAND", raising=False)
    monkeypatch.setenv("PATH", str(empty))

    result = CliRunner().invoke(app, ["model", "fetch", "tiny"])

    assert result.exit_code == 2
    pt = tmp_path / "cache" / "models" / "tiny.pt"
    expected = (
        f"pip install 'ultralytics>=8.2,<9' && yolo export model={pt} format=onnx "
        "imgsz=640 opset=17"
    )
    assert expected in result.output.replace("\n", "")
    assert pt.read_bytes() == PT_BYTES


def test_cli_fetch_runs_the_whole_path(
    tmp_path: Path,
    server: tuple[str, Served],
    model_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = _serve_pt(tmp_path, server, model_path)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(app, ["model", "fetch", "tiny"])
    assert result.exit_code == 0, result.output
    installed = tmp_path / "cache" / "models" / "tiny.onnx"
    assert result.stdout.strip().splitlines()[-1] == str(installed)
    info = CliRunner().invoke(app, ["model", "info", str(installed), "--json"])
    assert json.loads(info.stdout)["classes"] == 80


@pytest.mark.parametrize("sha", ["good", "bad"])
def test_direct_onnx_url_with_sha256(
    tmp_path: Path, server: tuple[str, Served], model_path: Path, sha: str
) -> None:
    url, served = server
    body = model_path.read_bytes()
    served.files["/m/custom.onnx"] = (200, body, len(body))
    digest = hashlib.sha256(body).hexdigest() if sha == "good" else "f" * 64
    entry = direct_onnx_entry(url + "/m/custom.onnx", digest)
    models = tmp_path / "models"
    if sha == "bad":
        with pytest.raises(ModelError, match="sha256 mismatch"):
            fetch(entry, models, progress=False)
        assert list(models.iterdir()) == []
        return
    path = fetch(entry, models, progress=False)
    assert path == models / "custom.onnx"
    assert (models / "custom.onnx.sha256").read_text().split()[0] == digest


def test_cli_refuses_a_url_without_sha256() -> None:
    result = CliRunner().invoke(app, ["model", "fetch", "https://example.com/m.onnx"])
    assert result.exit_code == 2
    assert "needs --sha256" in result.output


def test_export_command_placeholders(tmp_path: Path) -> None:
    from aios.agent.inference.manifest import ExportRecipe

    recipe = ExportRecipe(requirement="ultralytics", imgsz=320, opset=12)
    argv = onnx_export.export_command(
        recipe,
        tmp_path / "a b.pt",
        tmp_path / "a b.onnx",
        "{python} x.py {pt} --out={onnx} {imgsz} {opset}",
    )
    assert argv == [
        sys.executable,
        "x.py",
        str(tmp_path / "a b.pt"),
        f"--out={tmp_path / 'a b.onnx'}",
        "320",
        "12",
    ]
