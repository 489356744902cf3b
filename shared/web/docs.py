"""The offline docs page: Swagger UI over the function's OpenAPI document, every asset served
by the function itself from the files the `flask-swagger-ui` wheel ships (no CDN)."""

from __future__ import annotations

import functools
import html
import os

from flask import Request, Response
from werkzeug.utils import send_from_directory
from werkzeug.wrappers import Response as BaseResponse


@functools.cache
def assets_dir() -> str:
    import flask_swagger_ui

    return os.path.join(os.path.dirname(flask_swagger_ui.__file__), "dist")


def docs_page(request: Request, title: str) -> Response:
    """Swagger UI for this function's document, every asset served by the function itself."""
    base = request.script_root + request.path.rstrip("/").removesuffix("/docs")
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<link rel="stylesheet" href="{base}/docs/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="{base}/docs/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({{url: "{base}/openapi.json", dom_id: "#swagger-ui"}});</script>
</body></html>"""
    response = Response(page, mimetype="text/html")
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:"
    )
    return response


def docs_asset(request: Request, asset: str) -> BaseResponse:
    """One of Swagger UI's static files."""
    response = send_from_directory(assets_dir(), asset, request.environ)
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response
