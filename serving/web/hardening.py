"""Browser-facing defences on every response: security headers (a content policy for the page, never framed, never
sniffed), and refusal of the page framework's routes this product does not use (fetching URLs server-side)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from pathlib import Path

from starlette.responses import StreamingResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.error_shape import error_body

# The page (Gradio) needs inline scripts for its configuration, `new Function` for its HTML components' templates,
# and inline styles; so the policy's strength is elsewhere: everything loads from and connects to this origin only
# (an injected script could not send what it reads anywhere else), no framing by other sites, no plugins, no <base>,
# forms post only here.
PAGE_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; media-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
    "worker-src 'self' blob:; frame-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; "
    "object-src 'none'"
)
# A served document runs nothing in this origin: a unique, script-less origin, nothing loaded from anywhere.
DOCUMENT_POLICY = "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; frame-ancestors 'self'"

_ALWAYS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
]


class SecurityHeaders:
    """ASGI middleware: adds the headers above to every HTTP response; a response that sets its own
    Content-Security-Policy (a served document) keeps it, every other one gets the page's policy."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        # /gradio_api/file=http(s)://... makes this server fetch any public URL for the caller: not a feature here.
        if path.startswith(("/gradio_api/file=", "/file=")) and "://" in path:
            await _forbidden(send, "this server does not fetch URLs for clients")
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in _NAMES]
                own = [v for k, v in message.get("headers", []) if k.lower() == b"content-security-policy"]
                headers += _ALWAYS
                headers.append((b"content-security-policy", own[0] if own else PAGE_POLICY.encode()))
                if not own:
                    headers.append((b"x-frame-options", b"DENY"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


_NAMES = {k for k, _ in _ALWAYS} | {b"content-security-policy", b"x-frame-options"}


async def _forbidden(send: Send, message: str) -> None:
    body = json.dumps(error_body(message, "permission_error", with_param=True))
    await send(
        {
            "type": "http.response.start",
            "status": 403,
            "headers": [(b"content-type", b"application/json"), *_ALWAYS, (b"content-security-policy", b"sandbox")],
        }
    )
    await send({"type": "http.response.body", "body": body.encode()})


# How an indexed document is served. Text-like formats (markup included: an uploaded .html or .svg must not run in
# this origin) are shown as plain text; PDFs inline in the browser's viewer; everything else is a download.
_AS_TEXT = {".txt", ".md", ".markdown", ".rst", ".csv", ".tsv", ".json", ".html", ".htm", ".xhtml", ".xml", ".svg"}
_INLINE = {".pdf": "application/pdf"}


def document_type(path: Path) -> tuple[str, str]:
    """(media type, content disposition) to serve an indexed document with."""
    suffix = path.suffix.lower()
    if suffix in _AS_TEXT:
        return "text/plain; charset=utf-8", "inline"
    if suffix in _INLINE:
        return _INLINE[suffix], "inline"
    return "application/octet-stream", "attachment"


class AnswerStream(StreamingResponse):
    """An event stream that gives its answer slot back the moment the response ends, the client going away
    included: the generator itself only finishes after its current step (a whole retrieval, say)."""

    def __init__(self, content: Iterator[str], release: Callable[[], None]) -> None:
        super().__init__(content, media_type="text/event-stream")
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def watch() -> None:
            # The request body was read already; what comes next is the client going away. The server only
            # notices that when it next writes, which may be many seconds into a search: give the slot back now.
            while (await receive())["type"] != "http.disconnect":
                pass
            self._release()

        watcher = asyncio.create_task(watch())
        try:
            await super().__call__(scope, receive, send)
        finally:
            watcher.cancel()
            self._release()  # idempotent: the generator's own `finally` may call it again later
