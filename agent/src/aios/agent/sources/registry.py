"""Which camera class serves which source ``kind``: an explicit registry, no import magic."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aios.agent.errors import ConfigError
from aios.agent.registry import Registry
from aios.agent.sources.camera import Camera
from aios.agent.sources.file import FileCamera
from aios.agent.sources.http import HttpMjpegCamera
from aios.agent.sources.rtsp import RtspCamera
from aios.agent.sources.usb import UsbCamera
from aios.shared.pipeline import SourceParams


@dataclass(frozen=True, slots=True)
class CameraOptions:
    """Agent-level capture settings: where relative file paths resolve, and whether files play
    at their own frame rate (``realtime``) or as fast as the pipeline takes them."""

    base_dir: Path
    file_realtime: bool = True


CameraFactory = Callable[[SourceParams, CameraOptions], Camera]


class CameraRegistry(Registry[CameraFactory]):
    noun = "camera kind"

    def create(self, params: SourceParams, options: CameraOptions) -> Camera:
        factory = self.lookup(params.kind)
        if factory is None:
            known = ", ".join(self.kinds())
            raise ConfigError(f"source kind {params.kind!r} is not supported here (known: {known})")
        return factory(params, options)


def _file(params: SourceParams, options: CameraOptions) -> Camera:
    path = Path(params.uri.removeprefix("file://")).expanduser()
    if not path.is_absolute():
        path = options.base_dir / path
    return FileCamera(
        path, loop=params.loop, realtime=options.file_realtime, max_fps=params.max_fps
    )


def _rtsp(params: SourceParams, options: CameraOptions) -> Camera:
    return RtspCamera(params.uri, transport=params.transport)


def _usb(params: SourceParams, options: CameraOptions) -> Camera:
    return UsbCamera(params.uri, width=params.width, height=params.height)


def _http(params: SourceParams, options: CameraOptions) -> Camera:
    return HttpMjpegCamera(params.uri)


def default_cameras() -> CameraRegistry:
    registry = CameraRegistry()
    registry.register("file", _file)
    registry.register("rtsp", _rtsp)
    registry.register("usb", _usb)
    registry.register("http", _http)
    return registry
