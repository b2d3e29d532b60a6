"""The URLs flows hand out, in a response or inside a token.

Flows never spell a route: they ask a :class:`Links`, which the API builds from its own routes
(:class:`facematch.api.links.RouteLinks`), so renaming or moving a route moves every signed link
with it. Processes without the HTTP API (worker, CLI) hand out no links: their :class:`NoLinks`
says so if a flow asks.
"""

from __future__ import annotations

from typing import Protocol


class Links(Protocol):
    def upload(self, submission_id: str, document: str, signature: str) -> str:
        """The presigned upload URL of one document of an attempt."""
        ...

    def selfie_image(self, submission_id: str, signature: str) -> str:
        """The signed, short-lived URL of an attempt's selfie (Get Submission Details)."""
        ...

    def launch(self, token: str) -> str:
        """The hosted flow's launch URL (the token travels in the URL fragment)."""
        ...

    def handoff(self, code: str) -> str:
        """The Smart QR link that moves a web flow to a phone."""
        ...


class NoLinks:
    """The links of a process that serves no HTTP API: asking for one is a programming error."""

    def _refuse(self) -> str:
        raise RuntimeError("links are built by the HTTP API (create_app); this process serves none")

    def upload(self, submission_id: str, document: str, signature: str) -> str:
        return self._refuse()

    def selfie_image(self, submission_id: str, signature: str) -> str:
        return self._refuse()

    def launch(self, token: str) -> str:
        return self._refuse()

    def handoff(self, code: str) -> str:
        return self._refuse()
