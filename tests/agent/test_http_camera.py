"""The HTTP MJPEG camera against a real local HTTP server streaming
``multipart/x-mixed-replace`` JPEG frames (as IP cameras do), and a single-JPEG snapshot URL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
import pytest

from aios.agent.errors import SourceError
from aios.agent.inference import Detector
from aios.agent.sources.http import HttpMjpegCamera

BOUNDARY = "aiosframe"


class MjpegServer:
    """Streams ``frames`` (JPEG bytes) on /stream, the first one on /snapshot.jpg; /drop sends
    two frames and hangs up mid-frame."""

    def __init__(self, frames: list[bytes]) -> None:
        self.frames = frames
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return None

            def do_GET(self) -> None:
                if self.path == "/snapshot.jpg":
                    self.send_response(200)
                    self.send_header("Content-Type", "image/jpeg")
                    self.send_header("Content-Length", str(len(server.frames[0])))
                    self.end_headers()
                    self.wfile.write(server.frames[0])
                    return
                if self.path not in ("/stream", "/drop"):
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
                self.end_headers()
                frames = server.frames if self.path == "/stream" else server.frames[:2]
                for jpeg in frames:
                    self.wfile.write(
                        f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                        f"Content-Length: {len(jpeg)}\r\n\r\n".encode()
                    )
                    self.wfile.write(jpeg)
                    self.wfile.write(b"\r\n")
                    self.wfile.flush()
                if self.path == "/drop":
                    self.wfile.write(f"--{BOUNDARY}\r\n\r\n".encode() + server.frames[2][:500])
                    self.wfile.flush()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def server(testdata_dir: Path) -> Iterator[MjpegServer]:
    frames = []
    for name in ("bus.jpg", "zidane.jpg", "grace_hopper.jpg", "bus.jpg"):
        image = cv2.imread(str(testdata_dir / "images" / name))
        assert image is not None, name
        ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        assert ok
        frames.append(jpeg.tobytes())
    srv = MjpegServer(frames)
    srv.thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


def test_reads_every_frame_of_a_multipart_stream_then_ends(server: MjpegServer) -> None:
    camera = HttpMjpegCamera(server.url("/stream"))
    camera.open()
    shapes = []
    while (image := camera.read()) is not None:
        shapes.append(image.shape)
    camera.close()
    assert shapes == [(1080, 810, 3), (720, 1280, 3), (600, 512, 3), (1080, 810, 3)]


def test_detects_persons_in_a_streamed_frame(server: MjpegServer, model_path: Path) -> None:
    camera = HttpMjpegCamera(server.url("/stream"))
    camera.open()
    image = camera.read()
    camera.close()
    assert image is not None
    detections = Detector.load(model_path).detect(image)
    person = 0
    assert int(np.sum(detections.class_id == person)) >= 3  # bus.jpg: 4 persons (one cut off)


def test_a_snapshot_url_is_fetched_per_frame(server: MjpegServer) -> None:
    camera = HttpMjpegCamera(server.url("/snapshot.jpg"))
    camera.open()
    first, second = camera.read(), camera.read()
    camera.close()
    assert first is not None
    assert second is not None
    assert first.shape == second.shape == (1080, 810, 3)


def test_a_stream_cut_mid_frame_ends_without_a_broken_frame(server: MjpegServer) -> None:
    camera = HttpMjpegCamera(server.url("/drop"))
    camera.open()
    frames = []
    error = ""
    try:
        while (image := camera.read()) is not None:
            frames.append(image)
    except SourceError as exc:  # a reset connection is a lost stream, named
        error = str(exc)
    camera.close()
    assert not error or "127.0.0.1" in error
    assert [f.shape for f in frames] == [(1080, 810, 3), (720, 1280, 3)]


def test_an_unreachable_camera_is_named_without_its_password(free_port: int) -> None:
    camera = HttpMjpegCamera(f"http://admin:s3cret@127.0.0.1:{free_port}/stream", timeout_s=2)
    with pytest.raises(SourceError) as info:
        camera.open()
    message = str(info.value)
    assert f"127.0.0.1:{free_port}" in message
    assert "s3cret" not in message


def test_a_missing_path_is_a_source_error(server: MjpegServer) -> None:
    camera = HttpMjpegCamera(server.url("/nope"))
    with pytest.raises(SourceError, match="404"):
        camera.open()
