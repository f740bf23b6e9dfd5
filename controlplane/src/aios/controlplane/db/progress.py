"""Progress of ``aios db upgrade``: a bar on a terminal, one line per migration elsewhere.

On a terminal (stderr is a TTY) a rich progress bar counts the migrations as Alembic applies
them; in a log, a CI job or a container (no TTY) each applied revision is one line on stderr
(``applied 0003_storage (3/9)``), which tests and operators can read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


@contextmanager
def migration_progress(
    total: int, console: Console | None = None
) -> Iterator[Callable[[str], None]]:
    """Yields the function to tell each revision id as it is applied (``total`` of them)."""
    console = console or Console(stderr=True)
    done = 0
    if not console.is_terminal or total == 0:

        def line(revision: str) -> None:
            nonlocal done
            done += 1
            console.print(f"applied {revision} ({done}/{total})", highlight=False)

        yield line
        return
    columns = (TextColumn("migrating"), BarColumn(), MofNCompleteColumn())
    with Progress(
        *columns,
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("", total=total)
        yield lambda revision: bar.update(task, advance=1, description=revision)
