"""Screenshots of the console's main pages with the demo's real data, into docs/screenshots/.

Runs ``python -m scripts.demo`` (control plane, embedded broker, an enrolled agent on the sample
video), waits until detections and an event with a snapshot exist, adds the demo pipeline to the
control plane as a versioned pipeline (so the Pipelines page has something to show), then drives
Debian's chromium (Playwright, ``executable_path``) through Fleet, Device, Live events,
Analytics, Pipelines and Settings. PNG, 1280 px wide.

    uv run python -m scripts.screenshots [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.demo import DEMO_PASSWORD, demo_pipeline  # noqa: E402

PAGES = [
    ("fleet", "#/fleet", "table[aria-label=Devices] tbody tr[data-device]"),
    ("device", None, "h2:text('Cameras'), h3:text('Cameras')"),
    ("events", "#/events", "li.event img.snapshot[src^='blob:']"),
    ("analytics", "#/analytics", "[data-chart=zones] path.series"),
    ("pipelines", None, "li.node"),
    ("settings", "#/settings", "table[aria-label=Users] tbody tr"),
]


def _browser() -> str:
    for name in (os.environ.get("AIOS_CHROMIUM"), "chromium", "chromium-browser"):
        if name and (found := shutil.which(name)):
            return found
    raise SystemExit("no chromium: run scripts/ensure_browser.sh")


def _wait_demo(proc: subprocess.Popen[str], timeout: float = 180) -> tuple[str, str]:
    """The console's base URL and the demo login, read from the demo's output."""
    text = ""
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None:
                raise SystemExit(f"the demo exited:\n{text[-3000:]}")
            continue
        text += line
        url = re.search(r"(http://127\.0\.0\.1:\d+)/console/", text)
        email = re.search(r"sign in as (\S+@example\.com)", text)
        if url and email:
            return url.group(1), email.group(1)
    raise SystemExit(f"the demo printed no console URL:\n{text[-3000:]}")


def _until(check: Any, what: str, timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(1)
    raise SystemExit(f"timed out waiting for {what}")


def _shrink(path: Path) -> None:
    """Rewrite with the highest PNG compression (OpenCV is in the workspace already)."""
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is not None:
        cv2.imwrite(str(path), image, [cv2.IMWRITE_PNG_COMPRESSION, 9])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "AIOS_DEMO_SECONDS": "0", "COLUMNS": "200"}
    demo = subprocess.Popen(
        [sys.executable, "-m", "scripts.demo"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base, email = _wait_demo(demo)
        token = httpx.post(
            f"{base}/api/v1/auth/login", json={"email": email, "password": DEMO_PASSWORD}
        ).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}

        def events() -> list[dict[str, Any]]:
            page = httpx.get(f"{base}/api/v1/dashboard/events", headers=auth, timeout=10).json()
            return [e for e in page["items"] if e["snapshot_url"]]

        _until(events, "an event with a snapshot")
        device = httpx.get(f"{base}/api/v1/fleet", headers=auth, timeout=10).json()["items"][0]
        spec = demo_pipeline("/opt/aios/lobby.mp4", "yolov8n")
        created = httpx.post(
            f"{base}/api/v1/pipelines",
            json={"name": "lobby", "description": "the demo pipeline", "spec": spec},
            headers=auth,
        ).json()
        spec["nodes"][1]["params"]["every_n"] = 2
        httpx.patch(f"{base}/api/v1/pipelines/{created['id']}", json={"spec": spec}, headers=auth)
        time.sleep(20)  # a few more buckets of detections and another event
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=_browser(), args=["--no-sandbox"])
            page: Page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.goto(f"{base}/console/")
            page.get_by_label("Email").fill(email)
            page.get_by_label("Password").fill(DEMO_PASSWORD)
            page.screenshot(path=str(args.out / "signin.png"))
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_selector("h1:text('Fleet')")
            for name, route, ready in PAGES:
                if name == "device":
                    route = f"#/device/{device['id']}"
                if name == "pipelines":
                    route = f"#/pipelines/{created['id']}"
                page.goto(f"{base}/console/{route}")
                page.wait_for_selector(ready, timeout=60_000)
                page.wait_for_timeout(1500)
                page.screenshot(path=str(args.out / f"{name}.png"), full_page=name != "pipelines")
            browser.close()
        for png in args.out.glob("*.png"):
            _shrink(png)
            print(f"{png.relative_to(ROOT)}  {png.stat().st_size // 1024} KiB")
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            demo.wait(30)
        except subprocess.TimeoutExpired:
            demo.kill()


if __name__ == "__main__":
    main()
