"""The OpenAPI document is the truth: schemathesis fuzzes every operation of a live server
(uvicorn on loopback, SQLite, authenticated as an organization's owner) with schema-valid and
schema-invalid requests, and runs every response check on each answer (the CLI's
``--checks all``: status codes, content types, headers, response schemas, no 5xx, valid
requests accepted, invalid ones refused), a bounded number of examples per operation.

Where an operation refuses schema-valid input by a rule the schema cannot express, the rule is
named here and 400/422 is expected for it (and only for it) by the schema-valid-request check.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.config import SchemathesisConfig
from schemathesis.core.result import Err
from schemathesis.generation.modes import GenerationMode

from aios.controlplane.app import create_app
from aios.controlplane.db import migrate
from aios.controlplane.db.engine import create_engine
from tests.controlplane.api.conftest import PASSWORD, unique_email
from tests.controlplane.api.live import serve
from tests.controlplane.conftest import make_settings

pytestmark = pytest.mark.slow

MAX_EXAMPLES = 8
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]
# Rules beyond JSON schema: (operation path regex, why, extra statuses schema-valid input gets)
BUSINESS_RULES: list[tuple[str, str, list[str]]] = [
    ("^/api/v1/auth/register$", "password blocklist and trivial patterns", ["400"]),
    ("^/api/v1/organizations/users$", "password blocklist and trivial patterns", ["400"]),
    ("^/api/v1/dashboard/", "since/until must parse as ISO 8601 or Unix seconds", ["400"]),
    ("^/api/v1/fleet/[^/]+/heartbeats$", "since/until must parse as ISO 8601 or Unix seconds",
     ["400"]),
    ("^/api/v1/pipelines", "a spec must be a valid pipeline graph; targets need ids or tags",
     ["400", "422"]),
    ("^/api/v1/notifications/webhooks", "a URL must parse and must not point inside (SSRF)",
     ["400"]),
    ("^/api/v1/events/", "an event id and a JPEG body are checked beyond their schema",
     ["400", "413", "415"]),
]  # fmt: skip


def _config() -> SchemathesisConfig:
    return SchemathesisConfig.from_dict(
        {
            "generation": {"max-examples": MAX_EXAMPLES},
            "operations": [
                {
                    "include-path-regex": path,
                    "checks": {
                        "positive_data_acceptance": {"expected-statuses": ACCEPTED + statuses}
                    },
                }
                for path, _, statuses in BUSINESS_RULES
            ],
        }
    )


@pytest.fixture(scope="module")
def live_api(tmp_path_factory: pytest.TempPathFactory, mqtt_url: str) -> Iterator[dict[str, str]]:
    tmp: Path = tmp_path_factory.mktemp("openapi")
    settings = make_settings(
        tmp,
        AIOS_DATABASE_URL=f"sqlite+aiosqlite:///{tmp / 'aios.db'}",
        AIOS_MQTT_URL=mqtt_url,
        AIOS_MQTT_TOPIC_PREFIX="aiostest/" + uuid.uuid4().hex[:10],
        AIOS_INGEST_ENABLED="false",
        AIOS_JOBS_ENABLED="false",
    )

    async def migrated() -> None:
        engine = create_engine(settings)
        await migrate.upgrade(engine)
        await engine.dispose()

    asyncio.run(migrated())
    with serve(create_app(settings, run_ingest=False)) as base:
        email = unique_email("fuzz")
        body = {"email": email, "password": PASSWORD, "full_name": "F", "organization_name": "F"}
        assert httpx.post(f"{base}/api/v1/auth/register", json=body).status_code == 202
        tokens = httpx.post(
            f"{base}/api/v1/auth/login", json={"email": email, "password": PASSWORD}
        ).json()
        yield {"base": base, "token": tokens["access_token"]}


def _fuzz(operation: Any, mode: GenerationMode, base: str, headers: dict[str, str]) -> None:
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case: Any) -> None:
        case.call_and_validate(base_url=base, headers=headers)

    check()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_answers_as_documented(
    live_api: dict[str, str], mode: GenerationMode
) -> None:
    base, headers = live_api["base"], {"Authorization": f"Bearer {live_api['token']}"}
    schema = schemathesis.openapi.from_url(f"{base}/docs/openapi.json", config=_config())
    failures: dict[str, str] = {}
    tested = 0
    for result in schema.get_all_operations():
        if isinstance(result, Err):  # the document has an invalid operation
            raise result.err()
        operation = result.ok()
        tested += 1
        try:
            _fuzz(operation, mode, base, headers)
        except Unsatisfiable:  # nothing to make invalid (no parameters, or free-form strings)
            assert mode is GenerationMode.NEGATIVE, operation.label
        except BaseException as exc:  # report every failing operation, not the first only
            if isinstance(exc, KeyboardInterrupt):
                raise
            failures[operation.label] = str(exc)[:1500]
    assert tested >= 40
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
