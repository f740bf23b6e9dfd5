"""The console's accessibility in headless Chromium, against a real ``aios serve``.

- Every page passes axe-core's WCAG 2.1 A/AA rules (labels, names, contrast, landmarks, ARIA):
  axe-core is vendored under ``tests/e2e/vendor/axe-core`` and injected into the page, nothing
  is fetched;
- every visible input, select, textarea and button has an accessible name (checked here too,
  independently of axe);
- the main flows work from the keyboard alone, with the focus visible at every stop: sign in,
  reach a page through the navigation, change a filter, and confirm or cancel a destructive
  action in a modal dialog that keeps the focus inside and gives it back when it closes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.browser import chromium
from tests.e2e.processes import control_plane, embedded_settings, register_operator, unused_port
from tests.e2e.test_console import pipeline_spec

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
PASSWORD = "correct horse battery staple"  # what register_operator sets
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]

UNNAMED_CONTROLS = """() => [...document.querySelectorAll('input, select, textarea, button')]
  .filter((el) => el.type !== 'hidden' && el.getClientRects().length > 0)
  .filter((el) => {
    const byLabel = el.labels && [...el.labels].some((l) => l.textContent.trim());
    const byAria = (el.getAttribute('aria-label') || '').trim()
      || (el.getAttribute('aria-labelledby') || '').split(/\\s+/).filter(Boolean)
        .some((id) => (document.getElementById(id)?.textContent || '').trim());
    const byText = el.tagName === 'BUTTON' && el.textContent.trim();
    return !(byLabel || byAria || byText || (el.getAttribute('title') || '').trim());
  })
  .map((el) => el.outerHTML.slice(0, 160))"""

FOCUS_SHOWN = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  return {text: (el.textContent || el.getAttribute('aria-label') || el.name || '').trim(),
          outline: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2,
          inDialog: Boolean(el.closest('dialog[open]'))};
}"""


@dataclass
class Console:
    base: str
    email: str
    auth: dict[str, str]
    device_id: str
    pipeline_id: str

    def api(self, method: str, path: str, body: Any = None) -> Any:
        r = httpx.request(method, f"{self.base}{path}", json=body, headers=self.auth, timeout=30)
        assert r.is_success, f"{method} {path}: {r.status_code} {r.text}"
        return r.json() if r.content else None


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    work = tmp_path_factory.mktemp("console-a11y")
    settings = embedded_settings(work / "cp")
    with control_plane(settings, work / "controlplane.log", unused_port()) as base:
        _, auth = register_operator(base)
        email = httpx.get(f"{base}/api/v1/auth/me", headers=auth, timeout=10).json()["user"]
        c = Console(base=base, email=email["email"], auth=auth, device_id="", pipeline_id="")
        c.device_id = c.api("POST", "/api/v1/fleet", {"name": "door-gw"})["id"]
        spec = pipeline_spec(work / "hall.mp4", work / "model.onnx")
        c.pipeline_id = c.api("POST", "/api/v1/pipelines", {"name": "hall", "spec": spec})["id"]
        c.api(
            "POST",
            "/api/v1/notifications/webhooks",
            {"name": "ops-hook", "url": "https://hooks.example.com/x"},
        )
        yield c


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.fixture
def tab(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()


def press_until(page: Page, key: str, text: str, *, limit: int = 40) -> None:
    """Press ``key`` until the focused element's text is ``text``; every stop on the way
    must show its focus."""
    for _ in range(limit):
        page.keyboard.press(key)
        focus = page.evaluate(FOCUS_SHOWN)
        if focus is None:
            continue
        assert focus["outline"], f"no visible focus on {focus['text']!r}"
        if focus["text"] == text:
            return
    raise AssertionError(f"{text!r} was never reached with {key}")


def audit(page: Page) -> None:
    """axe-core's WCAG A/AA rules and the accessible-name check, on the page as it is."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS
    )
    violations = [
        (v["id"], v["help"], [n["target"] for n in v["nodes"]][:5]) for v in result["violations"]
    ]
    assert violations == [], violations
    assert len(result["passes"]) >= 10, "axe checked next to nothing"
    assert page.evaluate(UNNAMED_CONTROLS) == []


def sign_in_by_keyboard(page: Page, c: Console) -> None:
    page.goto(f"{c.base}/")
    expect(page.get_by_role("heading", name="Sign in to AIOS")).to_be_visible()
    audit(page)
    expect(page.get_by_label("Email")).to_be_focused()  # the form takes the focus
    page.keyboard.type(c.email)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Fleet")).to_be_visible()


@pytest.mark.slow
def test_every_page_passes_axe_and_names_every_control(console: Console, tab: Page) -> None:
    c = console
    sign_in_by_keyboard(tab, c)
    pages = {
        "#/fleet": "Fleet",
        f"#/device/{c.device_id}": "door-gw",
        "#/events": "Live events",
        "#/analytics": "Analytics",
        "#/pipelines": "Pipelines",
        f"#/pipelines/{c.pipeline_id}": "hall",
        "#/settings": "Settings",
    }
    for route, heading in pages.items():
        tab.goto(f"{c.base}/console/{route}")
        expect(tab.get_by_role("heading", name=heading, level=1)).to_be_visible()
        tab.wait_for_load_state("networkidle")
        audit(tab)


@pytest.mark.slow
def test_the_main_flows_work_from_the_keyboard(console: Console, tab: Page) -> None:
    c = console
    sign_in_by_keyboard(tab, c)

    # Signed in, the focus is on the page's content, not lost on a removed form.
    expect(tab.locator("#main")).to_be_focused()

    # From the top, the skip link comes first and takes the focus to the content, on the
    # same page (the hash belongs to the router).
    tab.reload()
    expect(tab.get_by_role("heading", name="Fleet", level=1)).to_be_visible()
    press_until(tab, "Tab", "Skip to content", limit=1)
    tab.keyboard.press("Enter")
    expect(tab.locator("#main")).to_be_focused()
    expect(tab.get_by_role("heading", name="Fleet", level=1)).to_be_visible()
    assert tab.evaluate("location.hash") in ("", "#/fleet")

    # Through the navigation to Analytics; a filter changes from the keyboard.
    tab.reload()
    expect(tab.get_by_role("heading", name="Fleet", level=1)).to_be_visible()
    press_until(tab, "Tab", "Analytics")
    tab.keyboard.press("Enter")
    expect(tab.get_by_role("heading", name="Analytics", level=1)).to_be_visible()
    range_picker = tab.get_by_label("Time range")
    range_picker.focus()
    tab.keyboard.press("ArrowDown")
    expect(range_picker).not_to_have_value("1h")
    expect(tab.locator("[data-chart='zones'] h2")).to_contain_text("Detections in zones")

    # A destructive action asks in a modal dialog: the focus goes in, stays in, and returns.
    tab.goto(f"{c.base}/console/#/settings")
    expect(tab.get_by_role("heading", name="ops-hook")).to_be_visible()
    delete = tab.get_by_role("button", name="Delete", exact=True)
    delete.focus()
    tab.keyboard.press("Enter")
    dialog = tab.get_by_role("dialog", name="Delete webhook ops-hook?")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()  # the safe choice
    for _ in range(5):
        tab.keyboard.press("Tab")
        focus = tab.evaluate(FOCUS_SHOWN)
        if focus is not None:  # the browser's own UI may take a stop between the buttons
            assert focus["inDialog"], f"the focus left the dialog for {focus['text']!r}"
            assert focus["outline"], f"no visible focus on {focus['text']!r}"
    tab.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(delete).to_be_focused()
    expect(tab.get_by_role("heading", name="ops-hook")).to_be_visible()  # nothing deleted

    tab.keyboard.press("Enter")
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    press_until(tab, "Tab", "Delete webhook", limit=4)
    tab.keyboard.press("Enter")
    expect(tab.get_by_role("heading", name="ops-hook")).to_have_count(0)
    assert c.api("GET", "/api/v1/notifications/webhooks")["items"] == []
