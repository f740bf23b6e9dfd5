"""The operator's console in headless Chromium against real processes: ``aios serve`` (SQLite,
its embedded MQTT broker) and an ``aios-agent`` enrolled through the API that starts with no
pipeline.

An operator signs in; the device comes online on the Fleet page without a reload (WebSocket);
a pipeline edit shows the validation error at its node and field, is fixed, saved and deployed,
and the device's report ``applied`` appears live; the device page shows each new heartbeat as
it is pushed (no polling); an event with its snapshot arrives on the
Live events page without a reload, and another operator sees it acknowledged live; the
Analytics charts show the detections and the events by zone. A viewer sees no write controls
(and the API refuses them anyway).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from playwright.sync_api import Browser, Page, expect
from scripts.sample_pipeline import FULL_FRAME, person_present_pipeline

from tests.e2e.browser import chromium
from tests.e2e.conftest import FAILED
from tests.e2e.processes import (
    BIN,
    control_plane,
    embedded_settings,
    register_operator,
    sample_video,
    start,
    stop,
    tail,
    unused_port,
)

PASSWORD = "correct horse battery staple"
LIVE_TIMEOUT_MS = 45_000


@dataclass
class Stack:
    base: str
    auth: dict[str, str]
    email: str
    logs: dict[str, Path]
    video: Path
    model: Path
    work: Path
    device_id: str = ""
    agent: subprocess.Popen[bytes] | None = None
    pipeline_id: str = ""
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def api(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        r = httpx.request(method, f"{self.base}{path}", json=body, headers=self.auth, timeout=30)
        assert r.status_code == expect, f"{method} {path}: {r.status_code} {r.text}"
        return r.json() if r.content else None

    def logs_text(self) -> str:
        return "\n".join(f"----- {n} -----\n{tail(p)}" for n, p in self.logs.items())


def pipeline_spec(video: Path, model: Path, every_n: int = 2) -> dict[str, Any]:
    """Detections, and a ``person_present`` event (instant, with a snapshot) every 2 s."""
    return person_present_pipeline(
        "console",
        str(video),
        detect={"model": str(model), "every_n": every_n},
        detections={},
        zone=("hall", {"polygon": FULL_FRAME}),
        rule={"condition": "count", "cooldown_s": 2, "snapshot": True},
    )


@pytest.fixture(scope="module")
def stack(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    testdata_dir: Path,
    model_path: Path,
) -> Iterator[Stack]:
    work = tmp_path_factory.mktemp("console")
    settings = {**embedded_settings(work / "cp"), "AIOS_LOG_LEVEL": "INFO"}
    log = work / "controlplane.log"
    with control_plane(settings, log, unused_port()) as base:
        _, auth = register_operator(base)
        me = httpx.get(f"{base}/api/v1/auth/me", headers=auth, timeout=10).json()
        s = Stack(
            base=base,
            auth=auth,
            email=me["user"]["email"],
            logs={"control plane": log},
            video=sample_video(work / "hall.mp4", testdata_dir),
            model=model_path,
            work=work,
        )
        _enroll(s)
        try:
            yield s
        finally:
            if s.agent is not None:
                stop(s.agent)
            if any(item.stash.get(FAILED, False) for item in request.session.items):
                print(s.logs_text())


def _enroll(s: Stack) -> None:
    token = s.api(
        "POST", "/api/v1/fleet/enrollment-tokens", {"name": "console", "max_uses": 1}, 201
    )
    state = s.work / "agent-state"
    done = subprocess.run(
        [BIN / "aios-agent", "enroll", s.base, "--state-dir", str(state), "--name", "hall-gw"],
        env={**os.environ, "AIOS_AGENT_ENROLL_TOKEN": token["token"]},
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    s.device_id = json.loads((state / "credentials.json").read_text())["device_id"]


def _start_agent(s: Stack) -> None:
    config = {
        "state_dir": str(s.work / "agent-state"),
        "model_path": str(s.model),
        "heartbeat_interval_s": 2,
        "apply": {"enabled": True, "grace_s": 2, "start_timeout_s": 30},
    }
    path = s.work / "agent.yaml"
    path.write_text(yaml.safe_dump(config))
    s.logs["agent"] = s.work / "agent.log"
    s.agent = start([BIN / "aios-agent", "run", "--config", str(path)], s.logs["agent"])


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.fixture
def page(request: pytest.FixtureRequest, browser: Browser, tmp_path: Path) -> Iterator[Page]:
    """A fresh page; on failure its screenshot and HTML are kept beside the test's files."""
    p = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        yield p
    finally:
        if request.node.stash.get(FAILED, False):
            p.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
            (tmp_path / "failure.html").write_text(p.content())
            print(f"browser state at the failure: {tmp_path}/failure.png, failure.html")
        p.close()


def _sign_in(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/")
    expect(page.get_by_role("heading", name="Sign in to AIOS")).to_be_visible()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Fleet")).to_be_visible()


def _mark(page: Page) -> None:
    """Something only this page load has: gone if the page reloads."""
    page.evaluate("window.__sameLoad = true")


def _same_load(page: Page) -> bool:
    return bool(page.evaluate("window.__sameLoad === true"))


def _add_member(s: Stack, role: str, full_name: str) -> str:
    """A new member of the organization with ``role`` (password ``PASSWORD``): their email."""
    email = f"{role}-{uuid.uuid4().hex[:6]}@example.com"
    s.api(
        "POST",
        "/api/v1/organizations/users",
        {"email": email, "password": PASSWORD, "full_name": full_name, "role": role},
        201,
    )
    return email


def _operator_page(s: Stack, browser: Browser) -> Page:
    """A second operator, signed in on a page of their own."""
    email = _add_member(s, "operator", "Otto Operator")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    _sign_in(page, s.base, email)
    return page


@pytest.mark.slow
def test_operator_signs_in_watches_the_device_deploys_and_sees_events(
    stack: Stack, page: Page, browser: Browser
) -> None:
    s = stack
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    # Sign in; the enrolled device is listed, not online yet (its agent is not running).
    _sign_in(page, s.base, s.email)
    row = page.locator(f"tr[data-device='{s.device_id}']")
    expect(row).to_contain_text("hall-gw")
    expect(row.locator(".badge").first).not_to_have_text("online")
    expect(page.locator(".live-dot")).to_have_text("live")

    # The agent starts: the row turns online over the WebSocket, without a reload.
    _mark(page)
    _start_agent(s)
    expect(row.locator(".badge").first).to_have_text("online", timeout=LIVE_TIMEOUT_MS)
    assert _same_load(page)

    # A pipeline edit with a bad value: the error shows at its node and field.
    s.pipeline_id = s.api(
        "POST", "/api/v1/pipelines", {"name": "hall", "spec": pipeline_spec(s.video, s.model)}, 201
    )["id"]
    page.goto(f"{s.base}/console/#/pipelines")
    page.get_by_role("link", name="hall").click()
    editor = page.get_by_label("Pipeline spec (JSON)")
    bad = pipeline_spec(s.video, s.model, every_n=0)
    editor.fill(json.dumps(bad, indent=2))
    page.get_by_role("button", name="Validate").click()
    node = page.locator("li.node[data-node='det']")
    expect(node).to_have_class("node invalid")
    expect(node.locator("[data-field='params.every_n']")).to_have_class("invalid")
    expect(node.locator(".field-error")).to_contain_text("params.every_n")
    expect(page.locator("li.node.invalid")).to_have_count(1)

    # Fixed, saved as version 2, deployed to the device: its report arrives live.
    editor.fill(json.dumps(pipeline_spec(s.video, s.model, every_n=2), indent=2))
    page.get_by_role("button", name="Validate").click()
    expect(page.locator("li.node.invalid")).to_have_count(0)
    page.get_by_role("button", name="Save as new version").click()
    expect(page.get_by_text("Saved as version 2.")).to_be_visible()
    page.get_by_role("checkbox", name="hall-gw").check()
    _mark(page)
    page.get_by_role("button", name="Deploy", exact=True).click()
    target = page.locator(f"tr[data-target='{s.device_id}'] .target-status").first
    expect(target).to_have_text("applied", timeout=LIVE_TIMEOUT_MS)
    assert _same_load(page)
    assert s.api("GET", f"/api/v1/fleet/{s.device_id}/heartbeat")["device_id"] == s.device_id

    # The device page: each new heartbeat arrives over the WebSocket (the agent beats every
    # 2 s); the page shows it without a reload and never asks for it again.
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if r.url.endswith("/heartbeat") else None)
    page.goto(f"{s.base}/console/#/device/{s.device_id}")
    health = page.locator("section.card[data-heartbeat-ts]")
    expect(health).to_have_count(1)
    first = health.get_attribute("data-heartbeat-ts")
    assert first is not None
    _mark(page)
    expect(health).not_to_have_attribute("data-heartbeat-ts", first, timeout=15_000)
    expect(health.get_by_role("table", name="Cameras")).to_contain_text("streaming")
    second = health.get_attribute("data-heartbeat-ts")
    page.wait_for_timeout(11_000)  # longer than the 10 s the page used to poll at
    expect(health).not_to_have_attribute("data-heartbeat-ts", second or "")
    assert _same_load(page)
    assert len(asked) == 1, asked  # the first load only: no polling

    # Live events: a new event arrives with its snapshot, without a reload.
    page.goto(f"{s.base}/console/#/events")
    expect(page.get_by_role("heading", name="Live events")).to_be_visible()
    page.wait_for_timeout(300)
    before = set(page.locator("li.event").evaluate_all("els => els.map(e => e.dataset.event)"))
    _mark(page)
    fresh = page.locator("li.event").filter(has=page.locator("img.snapshot[src^='blob:']"))
    deadline = time.monotonic() + LIVE_TIMEOUT_MS / 1000
    new_ids: set[str] = set()
    while time.monotonic() < deadline and not new_ids:
        ids = fresh.evaluate_all("els => els.map(e => e.dataset.event)")
        new_ids = set(ids) - before
        page.wait_for_timeout(300)
    assert new_ids, f"no new event with a snapshot arrived live\n{s.logs_text()}"
    assert _same_load(page)
    card = page.locator(f"li.event[data-event='{sorted(new_ids)[0]}']")
    expect(card).to_contain_text("person_present")
    expect(card).to_contain_text("hall")  # the zone
    width = card.locator("img.snapshot").evaluate("img => img.naturalWidth")
    assert width > 0

    # Acknowledged here; another operator, on their own page, sees it without a reload.
    other = _operator_page(s, browser)
    other.goto(f"{s.base}/console/#/events")
    other_card = other.locator(f"li.event[data-event='{sorted(new_ids)[0]}']")
    expect(other_card.get_by_role("button", name="Acknowledge")).to_be_visible()
    _mark(other)
    card.get_by_role("button", name="Acknowledge").click()
    expect(card.locator(".acked")).to_contain_text("Acknowledged by Ops")
    expect(other_card.locator(".acked")).to_contain_text("Acknowledged by Ops", timeout=15_000)
    assert _same_load(other)
    other.close()

    # Analytics: the detections chart has a person series with counts.
    page.goto(f"{s.base}/console/#/analytics")
    page.get_by_label("Time range").select_option("15m")
    chart = page.locator("[data-chart='detections']")
    expect(chart.locator("path.series[data-key='person']")).to_have_count(1)
    expect(chart.locator(".legend")).to_contain_text("person")
    by_zone = page.locator("[data-chart='events-over-time']")
    expect(by_zone.locator("path.series[data-key='hall']")).to_have_count(1)  # the zone
    # Detections in zones: the agent tags its detections with the zone nodes they stand in.
    in_zones = page.locator("[data-chart='zones']")
    expect(in_zones.locator("path.series[data-key='hall']")).to_have_count(1)
    expect(in_zones.locator("rect.bar")).to_have_count(1)
    page.get_by_label("Zone", exact=True).select_option("hall")
    expect(in_zones.locator("h2")).to_contain_text("by class in zone hall")
    expect(in_zones.locator("path.series[data-key='person']")).to_have_count(1)
    assert errors == [], errors


@pytest.mark.slow
def test_a_viewer_sees_no_write_controls(stack: Stack, page: Page) -> None:
    s = stack
    email = _add_member(s, "viewer", "Vic Viewer")
    if not s.pipeline_id:
        s.pipeline_id = s.api(
            "POST",
            "/api/v1/pipelines",
            {"name": "hall", "spec": pipeline_spec(s.video, s.model)},
            201,
        )["id"]
    page.set_viewport_size({"width": 1024, "height": 768})  # a tablet
    _sign_in(page, s.base, email)
    expect(page.get_by_role("heading", name="Enrollment tokens")).to_have_count(0)
    page.goto(f"{s.base}/console/#/pipelines/{s.pipeline_id}")
    expect(page.get_by_role("heading", name="Rollouts")).to_be_visible()
    expect(page.get_by_role("button", name="Deploy", exact=True)).to_have_count(0)
    expect(page.get_by_role("button", name="Save as new version")).to_have_count(0)
    expect(page.get_by_label("Pipeline spec (JSON)")).not_to_be_editable()
    expect(page.get_by_role("heading", name="New pipeline")).to_have_count(0)
    # The API refuses a viewer anyway.
    login = httpx.post(
        f"{s.base}/api/v1/auth/login", json={"email": email, "password": PASSWORD}, timeout=30
    ).json()
    refused = httpx.post(
        f"{s.base}/api/v1/pipelines/{s.pipeline_id}/execute",
        json={"device_ids": [s.device_id]},
        headers={"Authorization": f"Bearer {login['access_token']}"},
        timeout=30,
    )
    assert refused.status_code == 403
