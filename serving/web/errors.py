"""How the API reports errors: one JSON shape (OpenAI's) and one status per kind of problem, for every route.

Routes raise; the handlers here translate. KBError subclasses say what the user can do about the problem, and
the message is passed on; anything else is logged with its traceback and answered with a generic 500. The body
itself is built in serving/error_shape.py, which the authentication gate (below the web) uses too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from configs.errors import AccessDenied, InvalidRequest, KBError, ModelUnavailable, NotFound, StoreUnavailable
from retrieval.filters import FILTER_KEYS
from serving.access.quotas import OverLimit
from serving.error_shape import error_body, send_json
from serving.web.schemas import ErrorResponse

logger = logging.getLogger(__name__)


class ApiError(Exception):
    """An HTTP-level refusal (authentication, an unknown model, a missing file) with its status."""

    def __init__(
        self,
        status: int,
        message: str,
        kind: str = "invalid_request_error",
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status, self.message, self.kind, self.code, self.headers = status, message, kind, code, headers


# The one table from an error family to its HTTP status and OpenAI error type; the first family the error belongs
# to answers. Any other KBError (ConfigError: the server is set up wrong) is a 500 with its message.
ERRORS: tuple[tuple[type[KBError], int, str], ...] = (
    (InvalidRequest, 400, "invalid_request_error"),
    (AccessDenied, 403, "permission_error"),
    (NotFound, 404, "not_found"),
    (ModelUnavailable, 503, "model_unavailable"),
    (StoreUnavailable, 503, "store_unavailable"),
)


def kb_error(exc: KBError) -> tuple[int, dict[str, Any]]:
    """A KBError's status and body (also used inside event streams, where no handler runs)."""
    status, kind = next(((s, k) for family, s, k in ERRORS if isinstance(exc, family)), (500, "server_error"))
    return status, error_body(str(exc), kind)


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for a route: each status it may answer with, all in the error shape."""
    meaning = {
        400: "invalid request (bad field, empty or too long question, unknown filter value)",
        401: "no credential, or an unknown, revoked, expired or forged key or token",
        403: "the signed-in user may not do this",
        404: "not found (also a file outside the caller's collections)",
        413: "request body over serving.max_request_kb",
        429: "over a rate limit (limits.*); see the Retry-After header",
        503: "a model (LLM, reranker), a store (conversations, keys, feedback) or the sign-in provider is unavailable",
    }
    return {s: {"model": ErrorResponse, "description": meaning[s]} for s in statuses}


def validation_message(errors: Sequence[Any]) -> str:
    """One line for the first problem in a request body; an unknown filter names the keys that exist."""
    first = errors[0] if errors else {"loc": (), "msg": "invalid body", "type": ""}
    loc = [str(p) for p in first["loc"] if p != "body"]
    if first.get("type") == "extra_forbidden" and loc[:1] == ["filters"]:
        return f"invalid request: unknown filter key(s) {loc[-1]}; use {', '.join(FILTER_KEYS)}"
    return f"invalid request: {'.'.join(loc) or 'body'}: {first['msg']}"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(KBError)
    async def _kb(_request: Request, exc: KBError) -> JSONResponse:
        status, body = kb_error(exc)
        return JSONResponse(body, status_code=status)

    @app.exception_handler(OverLimit)
    async def _over(_request: Request, exc: OverLimit) -> JSONResponse:
        body = error_body(str(exc), "rate_limit_error")
        return JSONResponse(body, status_code=429, headers={"Retry-After": str(exc.retry_after)})

    @app.exception_handler(ApiError)
    async def _api(_request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(error_body(exc.message, exc.kind, exc.code), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(error_body(validation_message(exc.errors()), "invalid_request_error"), 400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = "not_found" if exc.status_code == 404 else "invalid_request_error"
        return JSONResponse(error_body(str(exc.detail), kind), exc.status_code, headers=exc.headers)


class BodyLimit:
    """Refuses request bodies over a size under /v1 and the front doors' paths (/mcp, /slack/, /teams/) with 413,
    before any of it is parsed or buffered further (the page's uploads have limits of their own)."""

    def __init__(
        self, app: ASGIApp, max_bytes: int, prefixes: tuple[str, ...] = ("/v1", "/mcp", "/slack/", "/teams/")
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.prefixes = prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith(self.prefixes):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send, int(declared))
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise _TooLarge(seen)
            return message

        try:
            await self.app(scope, counted, send)
        except _TooLarge as exc:
            await self._refuse(send, exc.size)

    async def _refuse(self, send: Send, size: int) -> None:
        message = f"request body is {size:,} bytes; the limit is {self.max_bytes:,} (serving.max_request_kb)"
        await send_json(send, 413, error_body(message, "invalid_request_error"))


class _TooLarge(Exception):
    def __init__(self, size: int) -> None:
        self.size = size


class MethodGuard:
    """Under /v1, a method no route declares (TRACE, QUERY, anything) gets 405 with Allow where the path exists,
    404 where it does not, in the API's error shape; without this, the page mounted at / would answer 404."""

    def __init__(self, app: ASGIApp, allowed: Callable[[str], set[str] | None], prefix: str = "/v1") -> None:
        self.app = app
        self.allowed = allowed
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] == "http" and path.startswith(self.prefix):
            methods = self.allowed(path)
            method = scope.get("method", "GET")
            if methods is not None and method not in methods | ({"HEAD"} if "GET" in methods else set()):
                allow = ", ".join(sorted(methods))
                body = error_body(f"{method} is not allowed here; use {allow}", "invalid_request_error")
                await send_json(send, 405, body, [(b"allow", allow.encode())])
                return
        await self.app(scope, receive, send)
