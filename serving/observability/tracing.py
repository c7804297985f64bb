"""OpenTelemetry traces: a span per HTTP request (FastAPI instrumentation) and per answer stage (ours), exported
over OTLP/HTTP only when observability.otlp_endpoint is set. Without it spans still get ids (so log lines can
carry a trace id) but nothing leaves the process. Also the request ids that log lines and responses carry.
"""

from __future__ import annotations

import logging
import re
import threading
import uuid
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from configs.logs import REQUEST_ID
from configs.settings import ObservabilitySettings

logger = logging.getLogger(__name__)
# OpenTelemetry keeps one tracer provider per process (trace.set_tracer_provider works once), so what is added to it,
# the OTLP endpoints it exports to, is process-wide too, and so is the lock that guards setting both up.
_LOCK = threading.Lock()
_EXPORTING: set[str] = set()


def provider(settings: ObservabilitySettings) -> TracerProvider:
    """The process's tracer provider (OpenTelemetry allows one per process), exporting to every
    observability.otlp_endpoint an app in this process was configured with."""
    with _LOCK:
        current = trace.get_tracer_provider()
        if not isinstance(current, TracerProvider):  # the API's no-op proxy: nothing set it up yet
            current = TracerProvider(resource=Resource.create({"service.name": settings.service_name}))
            trace.set_tracer_provider(current)
        if settings.otlp_endpoint:
            endpoint = settings.otlp_endpoint.rstrip("/")
            if not endpoint.endswith("/v1/traces"):
                endpoint += "/v1/traces"
            if endpoint not in _EXPORTING:
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
                from opentelemetry.sdk.trace.export import BatchSpanProcessor

                current.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint, timeout=5)))
                _EXPORTING.add(endpoint)
        return current


def instrument(app: Any, settings: ObservabilitySettings) -> None:
    """Request spans for the FastAPI app (health and metrics scrapes left out)."""
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app, tracer_provider=provider(settings), excluded_urls="/metrics,/v1/health", exclude_spans=["send", "receive"]
    )


def current_ids() -> tuple[str, str] | None:
    """(trace id, span id) of the current span, hex, or None outside one."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return f"{context.trace_id:032x}", f"{context.span_id:016x}"


_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class RequestIds:
    """ASGI middleware: every request gets an id (the caller's X-Request-ID when it is sane, else a new one),
    returned in the X-Request-ID response header and put on every log line written while serving it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"x-request-id"), "")
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        token = REQUEST_ID.set(request_id)
        ids = current_ids()
        if ids is not None:
            trace.get_current_span().set_attribute("kb.request_id", request_id)

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            REQUEST_ID.reset(token)
