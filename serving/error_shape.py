"""OpenAI's error shape, the one JSON body every HTTP error of this server takes, and how ASGI middleware sends it.

Here, below every package that answers HTTP, so that the authentication gate (serving.access, which may not import
the web) and the error table (serving.web.errors) build the same body from one function."""

from __future__ import annotations

import json
from typing import Any

from starlette.types import Send


def error_body(message: str, kind: str, code: str | None = None, *, with_param: bool = False) -> dict[str, Any]:
    """{"error": {"message", "type", "code"}}. with_param adds OpenAI's "param": null, which the refusals made in
    front of the routes (the authentication gate, the page guard, /metrics) have always carried and the error
    table's bodies never have; both stay as clients know them."""
    detail: dict[str, Any] = {"message": message, "type": kind}
    if with_param:
        detail["param"] = None
    detail["code"] = code
    return {"error": detail}


async def send_json(
    send: Send, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    """Answers from ASGI middleware, before any route (so before FastAPI's error handlers) runs."""
    payload = json.dumps(body).encode()
    start = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()), *(headers or [])]
    await send({"type": "http.response.start", "status": status, "headers": start})
    await send({"type": "http.response.body", "body": payload})
