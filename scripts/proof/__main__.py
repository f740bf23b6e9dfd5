"""``python -m scripts.proof``: run the fault scenarios and the load run, write docs/proof.md.

Everything is private and on loopback: a Mosquitto and a PostgreSQL cluster started here on
free ports in a temporary directory (never the shared services), removed at the end. The test
weights and images are read from ``AIOS_TEST_MODELS`` / ``AIOS_TEST_DATA`` (default: the
``shared`` folder beside the repository).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shlex
import sys
import tempfile
import time
import traceback
from pathlib import Path

from scripts.proof.faults import SCENARIOS
from scripts.proof.load import LoadResult, run_load
from scripts.proof.report import render, replace_load
from scripts.proof.rig import Mosquitto, Postgres, RigError
from scripts.proof.scenarios import Result, Rig, run_scenario
from scripts.sample_video import make_sample_video

ROOT = Path(__file__).resolve().parents[2]


def inputs() -> tuple[Path, list[Path]]:
    models = Path(os.environ.get("AIOS_TEST_MODELS", ROOT.parent / "shared" / "models"))
    data = Path(os.environ.get("AIOS_TEST_DATA", ROOT.parent / "shared" / "testdata"))
    model = models / "yolov8n-coco.onnx"
    images = [data / "images" / "bus.jpg", data / "images" / "zidane.jpg"]
    missing = [p for p in (model, *images) if not p.is_file()]
    if missing:
        raise SystemExit(f"missing inputs: {missing} (set AIOS_TEST_MODELS / AIOS_TEST_DATA)")
    return model, images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", action="append", help="run only these (repeatable)")
    parser.add_argument("--fast", action="store_true", help="only the fast scenarios")
    parser.add_argument("--outage", type=float, default=60.0, help="Mosquitto outage, seconds")
    parser.add_argument("--load-seconds", type=float, default=600.0)
    parser.add_argument("--load-devices", type=int, default=100)
    parser.add_argument("--no-load", action="store_true")
    parser.add_argument(
        "--merge",
        action="store_true",
        help="keep the scenarios of the previous run (--out's .json) that this run does not redo",
    )
    parser.add_argument(
        "--render-only",
        action="store_true",
        help="run nothing: write --out again from its .json, keeping its load section",
    )
    parser.add_argument(
        "--load-only",
        action="store_true",
        help="run only the load and replace the load section of an existing --out",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "proof.md")
    args = parser.parse_args()
    chosen = [
        s
        for s in SCENARIOS
        if (not args.scenario or s.name in args.scenario)
        and (s.fast or not args.fast)
        and not args.load_only
    ]
    if args.render_only:
        saved = json.loads(args.out.with_suffix(".json").read_text())
        old = args.out.read_text() if args.out.exists() else ""
        load_section = old.split("\n## Load\n", 1)[1] if "\n## Load\n" in old else None
        text = render(
            [Result(**r) for r in saved["results"]],
            None,
            outage_s=args.outage,
            failures=saved["failures"],
            command=saved["command"],
        )
        if load_section is not None:
            text = text.rstrip("\n") + "\n\n## Load\n" + load_section
        args.out.write_text(text)
        return
    model, images = inputs()
    results: list[Result] = []
    failures: dict[str, str] = {}
    load: LoadResult | None = None
    with tempfile.TemporaryDirectory(prefix="aios-proof-") as tmp:
        work = Path(tmp)
        video = make_sample_video(work / "sample.mp4", images, seconds=6, fps=10, size=(960, 540))
        mosquitto, postgres = Mosquitto(work / "mosquitto"), Postgres()
        postgres.init()
        mosquitto.start()
        rig = Rig(work, mosquitto, postgres, video, model, outage_s=args.outage)
        try:
            for scenario in chosen:
                began = time.monotonic()
                print(f"[proof] {scenario.name}: {scenario.title}", flush=True)
                try:
                    if mosquitto.proc is None:
                        mosquitto.start()
                    result = run_scenario(rig, scenario)
                    results.append(result)
                    print(
                        f"[proof] {scenario.name}: {'pass' if result.ok else 'FAIL'} "
                        f"({time.monotonic() - began:.0f} s) {result}",
                        flush=True,
                    )
                except (RigError, OSError, RuntimeError) as exc:
                    traceback.print_exc()
                    failures[scenario.name] = f"{type(exc).__name__}: {exc}"[:300]
            if not args.no_load:
                print(f"[proof] load: {args.load_devices} devices, {args.load_seconds:.0f} s")
                try:
                    load = run_load(
                        work,
                        mosquitto,
                        postgres,
                        devices=args.load_devices,
                        seconds=args.load_seconds,
                    )
                    print(f"[proof] load: {load}", flush=True)
                except (RigError, OSError, RuntimeError) as exc:
                    traceback.print_exc()
                    failures["load"] = f"{type(exc).__name__}: {exc}"[:300]
        finally:
            mosquitto.stop()
            postgres.destroy()
    command = ("python -m scripts.proof " + shlex.join(sys.argv[1:])).strip()
    saved = args.out.with_suffix(".json")
    if args.merge and saved.exists():
        previous = json.loads(saved.read_text())
        redone = {r.name for r in results} | set(failures)
        order = [s.name for s in SCENARIOS]
        results += [Result(**r) for r in previous["results"] if r["name"] not in redone]
        results.sort(key=lambda r: order.index(r.name))
        failures = {
            **{k: v for k, v in previous["failures"].items() if k not in redone},
            **failures,
        }
        command = f"{previous['command']}, then {command}"
    if not args.load_only:
        saved.write_text(
            json.dumps(
                {
                    "command": command,
                    "results": [dataclasses.asdict(r) for r in results],
                    "failures": failures,
                },
                indent=1,
            )
        )
    if args.load_only:
        args.out.write_text(replace_load(args.out.read_text(), load, failures, command))
    else:
        args.out.write_text(
            render(results, load, outage_s=args.outage, failures=failures, command=command)
        )
    print(f"[proof] wrote {args.out}")
    if failures or not all(r.ok for r in results):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
