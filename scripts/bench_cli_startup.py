"""Start-up time of ``aios --help`` and ``aios-agent --help`` (target: under 1 s each).

    uv run python scripts/bench_cli_startup.py [--runs 7] [--json]

Each command runs ``--runs`` times as a fresh process (the console script's own entry point);
prints the median and the fastest wall-clock run and the median CPU time (user + system) of the
process, in seconds. On a busy machine read the CPU time: the wall clock includes time spent
waiting for a CPU.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "aios --help": "from aios.controlplane.cli import main; main()",
    "aios-agent --help": "from aios.agent.cli import main; main()",
}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(code: str, runs: int) -> tuple[list[float], list[float]]:
    times, cpu = [], []
    for _ in range(runs):
        cpu_before = _children_cpu()
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", code, "--help"],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        times.append(time.perf_counter() - started)
        cpu.append(_children_cpu() - cpu_before)
    return times, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures = {}
    for name, code in COMMANDS.items():
        times, cpu = measure(code, args.runs)
        figures[name] = {
            "cpu_median_s": round(statistics.median(cpu), 3),
            "median_s": round(statistics.median(times), 3),
            "min_s": round(min(times), 3),
            "runs": args.runs,
        }
    if args.json:
        print(json.dumps(figures))
    else:
        for name, f in figures.items():
            print(
                f"{name:<20} cpu {f['cpu_median_s']:.3f} s, wall median {f['median_s']:.3f} s, "
                f"fastest {f['min_s']:.3f} s"
            )


if __name__ == "__main__":
    main()
