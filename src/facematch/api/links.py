"""The URLs flows hand out, built from the API's own routes (see :mod:`facematch.flows.links`)."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.routing import Router

from facematch.api.errors import Surface
from facematch.api.routes import submissions, web
from facematch.config import Settings


class RouteLinks:
    """:class:`facematch.flows.links.Links` over the routes of :mod:`facematch.api.routes`, with the
    deployment's public base URL in front."""

    def __init__(self, settings: Settings) -> None:
        self._base = settings.server.public_url.rstrip("/")
        self._launch_path = settings.server.launch_path
        self._routes = Router(routes=[*submissions.router.routes, *web.router.routes])

    def _url(self, name: str, query: dict[str, str], **params: str) -> str:
        path = str(self._routes.url_path_for(name, **params))
        return f"{self._base}{path}?{urlencode(query)}" if query else self._base + path

    def upload(self, submission_id: str, document: str, signature: str) -> str:
        return self._url(
            Surface.UPLOAD, {"signature": signature}, submission_id=submission_id, document_type=document
        )

    def selfie_image(self, submission_id: str, signature: str) -> str:
        return self._url(Surface.IMAGE, {"signature": signature}, submission_id=submission_id)

    def launch(self, token: str) -> str:
        # the web app's page with the token in the fragment; the path is a setting (server.launch_path)
        return self._base + self._launch_path + token

    def handoff(self, code: str) -> str:
        return self._url(web.HANDOFF_ROUTE, {}, code=code)
