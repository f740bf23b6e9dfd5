"""Routes that serve the console's static files (see :mod:`aios.controlplane.console`).

The files are public (they hold no data); everything they show comes from the authenticated
API. ``Cache-Control: no-cache`` makes browsers revalidate, so an upgrade of the control plane
is picked up on the next load without a stale module graph.
"""

from __future__ import annotations

from pathlib import Path

from litestar import Router, get
from litestar.datastructures import CacheControlHeader
from litestar.response import Redirect
from litestar.static_files import create_static_files_router

STATIC_DIR = Path(__file__).parent / "static"
CONSOLE_PATH = "/console"


@get("/", exclude_from_auth=True, include_in_schema=False)
async def root() -> Redirect:
    return Redirect(path=f"{CONSOLE_PATH}/")


def console_router() -> Router:
    return create_static_files_router(
        path=CONSOLE_PATH,
        directories=[STATIC_DIR],
        html_mode=True,
        name="console",
        cache_control=CacheControlHeader(no_cache=True),
        opt={"exclude_from_auth": True},
    )


ROUTES = [root, console_router()]
