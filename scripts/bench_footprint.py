"""Installed size of ``aios-agent`` per extra, and what is in its closure.

    uv run python -m scripts.bench_footprint [--extras cpu,openvino,gpu]

For each extra, a fresh virtual environment gets exactly what ``pip install
"aios-agent[EXTRA]"`` would install at the versions of ``uv.lock`` (``uv export``), plus the
agent and aios-shared themselves; sizes are the files each distribution's ``RECORD`` lists
(what uninstalling it would free). Prints one JSON object: per extra the total MB, every
distribution's MB (largest first), and the checks the install must pass: one OpenCV
distribution (``opencv-python-headless``; a second one would overwrite the same ``cv2``), no
server-side or development package.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OPENCV = {"opencv-python", "opencv-contrib-python", "opencv-python-headless"}
OPENCV |= {"opencv-contrib-python-headless"}
NOT_ON_A_DEVICE = {"litestar", "sqlalchemy", "asyncpg", "alembic", "uvicorn", "amqtt", "pytest"}
NOT_ON_A_DEVICE |= {"torch", "ultralytics", "onnx", "pydantic", "click"}

SIZES = """
import importlib.metadata as md, json, os
out = {}
for dist in md.distributions():
    total = 0
    for f in dist.files or []:
        try:
            total += os.path.getsize(f.locate())
        except OSError:
            pass
    out[dist.metadata["Name"].lower().replace("_", "-")] = total
print(json.dumps(out))
"""


def measure(extra: str, folder: Path) -> dict[str, object]:
    env_dir = folder / f"venv-{extra}"
    subprocess.run(["uv", "venv", "-q", "--python", sys.executable, str(env_dir)], check=True)
    reqs = folder / f"{extra}.txt"
    with reqs.open("w") as fh:
        subprocess.run(
            [
                *("uv", "export", "-q", "--locked", "--package", "aios-agent", "--extra", extra),
                *("--no-hashes", "--no-emit-workspace", "--no-dev"),
            ],
            cwd=ROOT,
            stdout=fh,
            check=True,
        )
    venv = {**os.environ, "VIRTUAL_ENV": str(env_dir)}
    subprocess.run(
        ["uv", "pip", "install", "-q", "-r", str(reqs)],
        env=venv,
        check=True,
    )
    subprocess.run(
        ["uv", "pip", "install", "-q", "--no-deps", str(ROOT / "shared"), str(ROOT / "agent")],
        env=venv,
        check=True,
    )
    out = subprocess.run(
        [str(env_dir / "bin" / "python"), "-c", SIZES], capture_output=True, text=True, check=True
    ).stdout
    sizes: dict[str, int] = json.loads(out)
    for tool in ("pip", "setuptools", "wheel"):  # the venv's own, not the agent's
        sizes.pop(tool, None)
    names = set(sizes)
    return {
        "total_mb": round(sum(sizes.values()) / 1e6, 1),
        "distributions": len(sizes),
        "mb": {k: round(v / 1e6, 1) for k, v in sorted(sizes.items(), key=lambda kv: -kv[1])},
        "opencv": sorted(names & OPENCV),
        "unwanted": sorted(names & NOT_ON_A_DEVICE),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extras", default="cpu,openvino", help="comma-separated (gpu: 2+ GB)")
    args = parser.parse_args()
    report: dict[str, object] = {}
    ok = True
    with tempfile.TemporaryDirectory(prefix="footprint-") as tmp:
        for extra in args.extras.split(","):
            figures = measure(extra, Path(tmp))
            report[extra] = figures
            ok = ok and figures["opencv"] == ["opencv-python-headless"] and not figures["unwanted"]
    report["ok"] = ok
    print(json.dumps(report, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
