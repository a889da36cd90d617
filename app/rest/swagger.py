"""Swagger UI at ``/swagger`` (``/docs`` leads there), over the node's ``/openapi.json``.

Its files come from the npm package ``swagger-ui-dist``, pinned in
``app/rest/ui/package.json`` + ``package-lock.json`` and installed into
``app/rest/ui/node_modules`` by ``scripts/setup-swagger-ui`` (``scripts/test`` runs
it). The node serves them itself: the page names no outside URL, so it works with no
internet. Without them ``/swagger`` answers 503 saying what to run.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from chain.rest.errors import RestError, not_found

UI_DIR = Path(__file__).resolve().parent / "ui" / "node_modules" / "swagger-ui-dist"
ASSETS = {
    "swagger-ui.css": "text/css",
    "index.css": "text/css",
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui-standalone-preset.js": "text/javascript",
    "favicon-32x32.png": "image/png",
    "favicon-16x16.png": "image/png",
}
UNAVAILABLE = 14  # gRPC UNAVAILABLE (the gateway's 503)

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>VCoin REST API</title>
<link rel="stylesheet" type="text/css" href="/swagger/swagger-ui.css">
<link rel="stylesheet" type="text/css" href="/swagger/index.css">
<link rel="icon" type="image/png" href="/swagger/favicon-32x32.png" sizes="32x32">
<link rel="icon" type="image/png" href="/swagger/favicon-16x16.png" sizes="16x16">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/swagger/swagger-ui-bundle.js" charset="UTF-8"></script>
<script src="/swagger/swagger-ui-standalone-preset.js" charset="UTF-8"></script>
<script src="/swagger/init.js" charset="UTF-8"></script>
</body>
</html>
"""

# validatorUrl null: Swagger UI would otherwise send the document to an outside validator
INIT = """window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "StandaloneLayout"
  });
};
"""


class Unavailable(RestError):
    @property
    def http_status(self) -> int:
        return 503


def _check() -> None:
    if not (UI_DIR / "swagger-ui-bundle.js").is_file():
        raise Unavailable(
            UNAVAILABLE,
            "Swagger UI's files are not installed: run scripts/setup-swagger-ui "
            "(/openapi.json answers without them)",
        )


def mount(rest: FastAPI) -> None:
    get = rest.get

    @get("/swagger", include_in_schema=False)
    def page() -> HTMLResponse:
        _check()
        return HTMLResponse(PAGE)

    @get("/docs", include_in_schema=False)
    def docs() -> RedirectResponse:
        return RedirectResponse("/swagger")

    @get("/swagger/init.js", include_in_schema=False)
    def init() -> Response:
        return Response(INIT, media_type="text/javascript")

    @get("/swagger/{name}", include_in_schema=False)
    def asset(name: str) -> FileResponse:
        media = ASSETS.get(name)
        if media is None:
            raise not_found(f"Swagger UI has no file {name[:80]!r}")
        _check()
        return FileResponse(
            UI_DIR / name, media_type=media, headers={"Cache-Control": "public, max-age=3600"}
        )
