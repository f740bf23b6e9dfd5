"""``aios db upgrade`` shows its progress: one line per applied migration when stderr is not a
terminal (a log, CI, a container), a progress bar on a terminal."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

from rich.console import Console

from aios.controlplane.db.migrate import MIGRATIONS
from aios.controlplane.db.progress import migration_progress

BIN = Path(sys.executable).parent


def revisions() -> list[str]:
    """Every migration's id, oldest first (the file names start with their order)."""
    return [p.stem for p in sorted((MIGRATIONS / "versions").glob("0*.py"))]


def upgrade(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "AIOS_DATA_DIR": str(tmp_path),
        "AIOS_SECRET_KEY": "progress-test-key-0123456789abcdef",
        "AIOS_LOG_LEVEL": "WARNING",
    }
    return subprocess.run(
        [str(BIN / "aios"), "db", "upgrade"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_each_applied_migration_is_a_line_without_a_terminal(tmp_path: Path) -> None:
    done = upgrade(tmp_path)
    assert done.returncode == 0, done.stderr
    expected = revisions()
    lines = [line for line in done.stderr.splitlines() if line.startswith("applied ")]
    assert lines == [
        f"applied {rev} ({i}/{len(expected)})" for i, rev in enumerate(expected, start=1)
    ]
    assert done.stdout.strip() == f"database at revision {expected[-1]}"
    again = upgrade(tmp_path)  # nothing left to apply: no progress at all
    assert again.returncode == 0, again.stderr
    assert "applied" not in again.stderr


def test_a_terminal_gets_a_progress_bar() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100)
    with migration_progress(3, console) as applied:
        applied("0001_a")
        applied("0002_b")
    text = out.getvalue()
    assert "migrating" in text
    assert "2/3" in text
    assert "applied 0001_a" not in text  # the bar, not the log lines
