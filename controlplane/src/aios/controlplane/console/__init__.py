"""The operator's console: a static single-page application served by ``aios serve`` at
``/console/`` (``/`` redirects there).

The files under ``static/`` are plain ES modules, one stylesheet and an HTML shell, shipped as
package data in the ``aios-controlplane`` wheel: no build step, no Node.js, no CDN or web font,
so the console works on an air-gapped site. It talks to the control plane only through the
public REST API and the WebSocket (``/api/v1/ws``), like any third-party dashboard would.
"""
