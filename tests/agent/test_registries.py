"""The camera registry: explicit, refusing a kind twice, naming what it knows (the node
registry, keyed by spec type, is tested in ``test_node_registry``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from aios.agent.errors import ConfigError
from aios.agent.sources.registry import CameraOptions, CameraRegistry, default_cameras
from aios.shared.pipeline import SourceParams


def test_a_camera_kind_cannot_be_registered_twice(tmp_path: Path) -> None:
    cameras = default_cameras()
    factory = cameras.lookup("usb")
    assert factory is not None
    with pytest.raises(ValueError, match="camera kind 'usb' is already registered"):
        cameras.register("usb", factory)
    with pytest.raises(ConfigError, match=r"source kind 'usb' is not supported here \(known: \)"):
        CameraRegistry().create(SourceParams(kind="usb", uri="0"), CameraOptions(tmp_path))
