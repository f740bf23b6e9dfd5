"""``docs/configuration.md`` and ``.env.example`` are generated from the settings' declarations
(``python -m scripts.settings_reference``): this fails when the committed files are stale."""

from __future__ import annotations

from pathlib import Path

import pytest
from scripts.settings_reference import DOC, ENV_EXAMPLE, ROOT, outputs

from aios.agent.config import config_variables
from aios.agent.environment import ENV_PREFIX, AgentEnvironment
from aios.controlplane.settings import PREFIX, Settings
from aios.shared import envvars


@pytest.mark.parametrize("path", [DOC, ENV_EXAMPLE], ids=lambda p: p.name)
def test_committed_reference_is_up_to_date(path: Path) -> None:
    assert path.read_text() == outputs()[path], (
        f"{path.relative_to(ROOT)} is stale: run python -m scripts.settings_reference"
    )


def test_reference_lists_every_variable_of_both_sides() -> None:
    declared = (
        envvars.names(Settings, PREFIX)
        | config_variables()
        | envvars.names(AgentEnvironment, ENV_PREFIX)
    )
    doc, example = outputs()[DOC], outputs()[ENV_EXAMPLE]
    for name in declared - {n for n in declared if n.endswith("_FILE") and n[:-5] in declared}:
        assert f"`{name}`" in doc
        assert f"# {name}=" in example
    assert "AIOS_INGEST_BATCH_SIZE` | integer 1..100000 | `1000`" in doc
