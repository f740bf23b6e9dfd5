"""The last pipeline config that ran through its grace period, kept in the state directory so
the agent restarts on it (atomic replace: a crash never leaves half a file)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from aios.agent.pipeline.desired import MAX_CONFIG_BYTES
from aios.shared.codec import decode_message, encode
from aios.shared.messages import PipelineConfig
from aios.shared.topics import Channel

log = logging.getLogger(__name__)


FILENAME = "last_good_pipeline.json"


class LastGoodStore:
    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def in_state_dir(cls, state_dir: Path) -> LastGoodStore:
        """The store ``aios-agent run`` uses for a state directory."""
        return cls(state_dir / FILENAME)

    def load(self) -> PipelineConfig | None:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        msg = decode_message(data, channel=Channel.CONFIG_DESIRED, max_bytes=MAX_CONFIG_BYTES)
        if not isinstance(msg, PipelineConfig):
            log.warning("ignoring unreadable last good pipeline %s: %s", self.path, msg)
            return None
        return msg

    def save(self, config: PipelineConfig) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "wb") as fh:
            fh.write(encode(config))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
