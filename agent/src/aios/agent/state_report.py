"""What the state directory says about this agent, for ``aios-agent status``: its identity,
the last good pipeline, the spool and the next detection ``seq``. Reads only; never creates."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from aios.agent.config import CREDENTIALS_FILE
from aios.agent.credentials import load_credentials
from aios.agent.errors import AgentError
from aios.agent.pipeline.last_good import LastGoodStore
from aios.agent.transport.spool_summary import SpoolSummary, read_spool_summary

LAST_GOOD_FILE = "last_good_pipeline.json"
SEQ_FILE = "seq"
SPOOL_FILE = "spool.sqlite"


@dataclass(frozen=True, slots=True)
class AgentState:
    state_dir: str
    enrolled: bool
    device_id: str | None
    org_id: str | None
    broker: str | None
    control_plane_url: str | None
    pipeline_id: str | None
    pipeline_version: int | None
    spool: SpoolSummary | None
    next_seq: int | None
    problems: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        data["problems"] = list(self.problems)
        return data


def _read_seq(path: Path) -> int | None:
    try:
        return int(path.read_text(encoding="ascii").strip())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise AgentError(f"{path}: unreadable sequence file: {exc}") from None


def read_state(
    state_dir: Path,
    *,
    spool_path: Path | None = None,
    device_id: str | None = None,
    org_id: str | None = None,
) -> AgentState:
    """The agent state kept in ``state_dir``. ``device_id`` / ``org_id`` (from a config file)
    are used when the device did not enroll. Unreadable parts are listed in ``problems``."""
    problems: list[str] = []
    creds = None
    try:
        creds = load_credentials(state_dir / CREDENTIALS_FILE)
    except AgentError as exc:
        problems.append(str(exc))
    last_good = None
    try:
        last_good = LastGoodStore(state_dir / LAST_GOOD_FILE).load()
    except (AgentError, OSError, ValueError) as exc:
        problems.append(f"last good pipeline: {exc}")
    spool = None
    try:
        spool = read_spool_summary(spool_path or state_dir / SPOOL_FILE)
    except AgentError as exc:
        problems.append(str(exc))
    next_seq = None
    try:
        next_seq = _read_seq(state_dir / SEQ_FILE)
    except AgentError as exc:
        problems.append(str(exc))
    return AgentState(
        state_dir=str(state_dir),
        enrolled=creds is not None,
        device_id=device_id or (creds.device_id if creds else None),
        org_id=org_id or (creds.org_id if creds else None),
        broker=creds.mqtt.url if creds else None,
        control_plane_url=creds.control_plane_url if creds else None,
        pipeline_id=last_good.pipeline_id if last_good else None,
        pipeline_version=last_good.version if last_good else None,
        spool=spool,
        next_seq=next_seq,
        problems=tuple(problems),
    )
