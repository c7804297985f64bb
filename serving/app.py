"""Builds the serving object graph from Settings: one process serves the page at /, the API under /v1 and the
configured front doors (/mcp, /slack/events, /teams/messages)."""

from __future__ import annotations

import hmac
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.requests import Request

from configs.settings import Settings
from serving.access.identity import Access
from serving.assistant import Assistant
from serving.error_shape import error_body
from serving.llm.protocol import ChatModel
from serving.observability.metrics import Metrics

logger = logging.getLogger(__name__)

__all__ = ["Assistant", "build_app", "server_options"]


def build_app(settings: Settings, index_dir: Path | None = None, chat_model: ChatModel | None = None) -> Any:
    """The FastAPI app: API routes under /v1, sign-in at /login, the Gradio page at /; the authentication gate
    in front of all of it."""
    import gradio as gr
    from fastapi import FastAPI
    from starlette.middleware.cors import CORSMiddleware

    from serving.access.auth import AuthGate
    from serving.access.signin import build_signin
    from serving.doors.mounts import mount_doors
    from serving.observability.metrics import HttpMetrics
    from serving.observability.tracing import RequestIds, instrument
    from serving.ui.page import build_page
    from serving.web.api import Api, allowed_methods, build_router
    from serving.web.errors import BodyLimit, MethodGuard, install_error_handlers
    from serving.web.hardening import SecurityHeaders

    assistant = Assistant(settings, index_dir, chat_model)
    if settings.audit.enabled and assistant.recorder.audit is not None:
        assistant.recorder.audit.prune(settings.audit.retention_days)
    assistant.conversations.prune(settings.storage.retention_days)
    if settings.privacy.redact:
        threading.Thread(target=_warm, args=(assistant,), daemon=True).start()
    app = FastAPI(title="kb-assistant", version="1", docs_url="/v1/docs", openapi_url="/v1/openapi.json")
    api = Api(assistant)
    router = build_router(api, _responses_and_conversations(api, assistant.conversations))
    app.include_router(router)
    app.include_router(build_signin(assistant.authenticator, settings.auth.public_url, assistant.recorder.action))
    doors = mount_doors(app, assistant)  # /mcp, /slack/events, /teams/messages: those configured
    app.router.lifespan_context = _lifespan(doors.lifespan, assistant)
    obs = settings.observability
    token = obs.metrics_token.get_secret_value() if obs.metrics_token else None
    if obs.metrics:  # before the page, which is mounted at /
        scrape = _metrics_route(assistant.metrics, token, assistant.access)
        app.add_api_route("/metrics", scrape, methods=["GET"], include_in_schema=False)
    install_error_handlers(app)
    app.add_middleware(BodyLimit, max_bytes=settings.serving.max_request_kb * 1024)
    app.add_middleware(MethodGuard, allowed=allowed_methods(router))
    page = build_page(assistant)
    app = gr.mount_gradio_app(
        app,
        page,
        path="/",
        auth_dependency=lambda request: _page_user(assistant, request),
        server_name=settings.serving.host,
        server_port=settings.serving.port,
        css=page.kb_css,
        footer_links=[],
        max_file_size=f"{settings.serving.upload_max_mb:g}mb",
        blocked_paths=_private_paths(assistant),
    )
    # Gradio checks that a file named in a page call was uploaded only once it thinks it "launched", which a
    # mounted app never does: without this, a client could name any server file as an upload (the page's own
    # handler checks again, see serving/access/paths.py).
    page.has_launched = True
    # Our own CORS policy (no cross-origin reads unless serving.cors_origins lists them) also stops Gradio from
    # adding its own, which reflects localhost origins with credentials.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(settings.serving.cors_origins),
        allow_methods=["GET", "POST"],
        allow_headers=["authorization", "content-type"],
        allow_credentials=False,
    )
    # Outermost last: request ids (and the request's trace), then latency by route, security headers, then
    # authentication.
    listen = f"{settings.serving.host}:{settings.serving.port}"
    app.add_middleware(
        AuthGate,
        authenticator=assistant.authenticator,
        open_paths=("/metrics",) if token else (),
        host=listen,
        own_auth=doors.open_paths,
    )
    app.add_middleware(SecurityHeaders)
    if obs.metrics:
        app.add_middleware(HttpMetrics, metrics=assistant.metrics)
    app.add_middleware(RequestIds)
    if obs.tracing:
        instrument(app, obs)
    app.state.assistant = assistant
    return app


def _responses_and_conversations(api: Any, store: Any) -> Callable[[Any], None]:
    """What adds the Responses and Conversations routes to the /v1 router (before its catch-all)."""
    from serving.web.conversations import ConversationsApi, add_conversation_routes
    from serving.web.responses import ResponsesApi, add_response_routes

    responses, conversations = ResponsesApi(api, store), ConversationsApi(api, store)

    def add(router: Any) -> None:
        add_response_routes(router, responses)
        add_conversation_routes(router, conversations)

    return add


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's options that are security decisions: forwarded headers are believed only from the configured
    proxies (uvicorn's default believes any client on 127.0.0.1, which lets a local caller pick its address)."""
    trusted = list(settings.serving.trusted_proxies)
    return {"proxy_headers": bool(trusted), "forwarded_allow_ips": trusted or None, "server_header": False}


def _metrics_route(metrics: Metrics, token: str | None, access: Access) -> Any:
    """GET /metrics: Prometheus' text format, never cached; with observability.metrics_token, only for a
    scraper that sends it (the authentication gate lets /metrics through to this check); without one, only for
    a user who may read every collection, since the counts cover them all."""
    from fastapi.responses import JSONResponse, Response
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    def scrape(request: Request) -> Response:
        if token is not None and not hmac.compare_digest(request.headers.get("authorization", ""), f"Bearer {token}"):
            return JSONResponse(
                error_body("send the metrics token as 'Authorization: Bearer <token>'", "authentication_error",
                           with_param=True),
                status_code=401,
                headers={"www-authenticate": 'Bearer realm="metrics"', "cache-control": "no-store"},
            )  # fmt: skip
        identity = getattr(request.state, "identity", None)
        if token is None and (identity is None or access.read_scope(identity).collections is not None):
            return JSONResponse(
                error_body("metrics count every collection: only a user who may read all of them sees them; a "
                           "scraper sends observability.metrics_token", "permission_error", with_param=True),
                status_code=403, headers={"cache-control": "no-store"},
            )  # fmt: skip
        return Response(
            generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST, headers={"cache-control": "no-store"}
        )

    return scrape


def _page_user(assistant: Assistant, request: Any) -> str | None:
    """Gradio's view of who is signed in (the gate has already turned away everyone else)."""
    identity = getattr(request.state, "identity", None)
    return identity.user if identity is not None else None


def _private_paths(assistant: Assistant) -> list[str]:
    """What the page framework must never serve or accept as a file: the index, the databases, the uploads."""
    s = assistant.settings
    files = (s.auth.keys_db, s.serving.feedback_db, s.storage.conversations_db, s.audit.path, s.serving.uploads_dir)
    return [str(p.resolve()) for p in (assistant.index_dir, *(s.resolve(f) for f in files))]


def _lifespan(doors: Callable[[Any], Any], assistant: Assistant) -> Callable[[Any], Any]:
    """While the server runs: the doors' own needs, and the folders of ingest.watch_paths kept in sync."""
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app: Any) -> Any:
        watch = assistant.folder_watch()
        if watch is not None:
            threading.Thread(target=watch.run, name="kb-watch", daemon=True).start()
            logger.info("keeping %s in sync with the index", ", ".join(str(r) for r in watch.roots))
        try:
            async with doors(app):
                yield
        finally:
            if watch is not None:
                watch.stop.set()

    return lifespan


def _warm(assistant: Assistant) -> None:
    """Loads the PII analyzer in the background, so the first answer does not wait for it."""
    try:
        assistant.redactor.warm()
    except Exception as exc:  # reported here; every later redaction raises the same clear error
        logger.warning("PII redaction is unavailable: %s", exc)
