"""The API documentation pages, with every asset served locally (air-gapped sites work):

- ``/docs``: Swagger UI (also ``/docs/swagger``), ``/docs/redoc`` and ``/redoc``: Redoc;
- ``/docs/openapi.json``: the schema;
- ``/docs/assets/...``: the vendored JavaScript, CSS and icon (``docs_assets/VENDORED.txt`` says
  where they come from). No page loads anything from a CDN or Google Fonts.
"""

from __future__ import annotations

from pathlib import Path

from litestar import Router, get
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import RedocRenderPlugin, SwaggerRenderPlugin
from litestar.response import Redirect
from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler

DOCS = "/docs"
ASSETS_PATH = f"{DOCS}/assets"
ASSETS = Path(__file__).resolve().parent / "docs_assets"
FAVICON = f"<link rel='icon' type='image/png' href='{ASSETS_PATH}/favicon-32x32.png'>"


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="AIOS control plane",
        version="1",
        path=DOCS,
        render_plugins=[
            SwaggerRenderPlugin(
                path=["/", "/swagger"],
                js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
                css_url=f"{ASSETS_PATH}/swagger-ui.css",
                standalone_preset_js_url=f"{ASSETS_PATH}/swagger-ui-standalone-preset.js",
                favicon=FAVICON,
            ),
            RedocRenderPlugin(
                path="/redoc",
                js_url=f"{ASSETS_PATH}/redoc.standalone.js",
                google_fonts=False,
                favicon=FAVICON,
            ),
        ],
    )


@get("/redoc", exclude_from_auth=True, include_in_schema=False, sync_to_thread=False)
def redoc() -> Redirect:
    """``/redoc`` at the root, where dashboards written against the seed look for it."""
    return Redirect(f"{DOCS}/redoc")


def route_handlers() -> list[ControllerRouterHandler]:
    assets: Router = create_static_files_router(
        path=ASSETS_PATH,
        directories=[ASSETS],
        include_in_schema=False,
        opt={"exclude_from_auth": True},
    )
    return [assets, redoc]
