"""Builds the serving object graph from Settings: one process serves the page at / and the API under /v1."""

from __future__ import annotations

import hmac
import logging
import re
import threading
from pathlib import Path
from typing import Any

from starlette.requests import Request

from configs.audit import AuditLog
from configs.errors import AccessDenied
from configs.settings import Settings
from retrieval.embeddings import build_embedder
from retrieval.filters import Scope
from retrieval.retriever import Retriever, build_retriever
from serving.auth import Authenticator
from serving.backends import Backend, choose_backend
from serving.chain import AnswerChain
from serving.conversations import ConversationStore
from serving.extractive import ExtractiveAnswerer
from serving.feedback import FeedbackStore
from serving.identity import Access, Identity
from serving.keys import KeyStore
from serving.llm import ChatModel
from serving.metrics import IndexCollector, Metrics
from serving.oidc import OidcProvider
from serving.pii import RedactingChatModel, Redactor
from serving.quotas import Quotas
from serving.recorder import Recorder
from serving.tools import Toolbox, search_results
from serving.verify import FeatureVerifier

logger = logging.getLogger(__name__)


class Assistant:
    """Everything the page and the API share: the chain, access rules, authentication, quotas, the audit
    trail and feedback, facets and uploads."""

    def __init__(self, settings: Settings, index_dir: Path | None = None, chat_model: ChatModel | None = None) -> None:
        self.settings = settings
        self.index_dir = index_dir or settings.resolve(settings.index.path)
        embedder = build_embedder(settings.embedding, settings.resolve(settings.embedding.cache_dir))
        self.retriever: Retriever = build_retriever(settings, self.index_dir, embedder)
        if chat_model is not None:
            self.backend = Backend(chat_model, "given", "given by the caller")
        else:
            self.backend = choose_backend(settings.llm, settings.resolve(settings.llm.model_dir))
        self.redactor = Redactor(settings.privacy)
        model = self.backend.model
        if model is not None and settings.llm.redact_pii and self.backend.kind == "openai":
            model = RedactingChatModel(model, self.redactor)
        self.chain = AnswerChain(
            self.retriever,
            model,
            ExtractiveAnswerer(embedder),
            FeatureVerifier(),
            settings.answer,
            settings.llm,
            self.backend.reason,
        )
        self.access = Access(settings.access)
        auth = settings.auth
        oidc = OidcProvider(auth) if auth.oidc_issuer else None
        keys = KeyStore(settings.resolve(auth.keys_db))
        self.authenticator = Authenticator(auth, keys, oidc, settings.serving.host)
        self.quotas = Quotas(settings.limits)
        audit = AuditLog(settings.resolve(settings.audit.path)) if settings.audit.enabled else None
        self.feedback = FeedbackStore(settings.resolve(settings.serving.feedback_db))
        storage = settings.storage
        self.conversations = ConversationStore(
            settings.resolve(storage.conversations_db),
            storage.url.get_secret_value() if storage.url else None,
            self.redactor.redact if settings.privacy.redact else None,  # the same privacy setting as audit, feedback
        )
        self.toolbox = Toolbox(settings.tools, self._search_tool, self._record_tool, settings.resolve(Path(".")))
        self.metrics = Metrics()
        self.metrics.register_index(IndexCollector(self.index_dir, self._index_size))
        self.recorder = Recorder(
            audit,
            self.feedback,
            self.redactor if settings.privacy.redact else None,
            self.metrics,
            settings.observability.trace_question,
        )
        self._ingest_lock = threading.Lock()

    def _search_tool(self, query: str, scope: Scope) -> list[dict[str, Any]]:
        return search_results(self.retriever.search(query, None, top_k=5, scope=scope).hits)

    def _record_tool(self, kind: str, identity: Identity, details: dict[str, Any]) -> None:
        self.recorder.action(kind, identity, {k: self.recorder.clean(str(v)) for k, v in details.items()})

    def _index_size(self) -> tuple[int, int]:
        lexical = self.retriever.lexical
        return self.retriever.files(), len(lexical) if lexical else 0

    def may_read_file(self, identity: Identity, source: str) -> bool:
        """Whether the file is indexed in a collection the identity may read."""
        return self.retriever.has_source(source, self.access.read_scope(identity))

    def facets(self, identity: Identity) -> dict[str, list[str]]:
        """Values the filters can take among what the identity may read."""
        return self.retriever.facets(self.access.read_scope(identity))

    def status(self, identity: Identity) -> str:
        lexical = self.retriever.lexical
        files = self.retriever.files(self.access.read_scope(identity))
        chunks = len(lexical) if lexical and identity.via == "local" else None
        who = "" if identity.via == "local" else f" · signed in as **{identity.display}**"
        size = f"{files} files, {chunks} chunks" if chunks is not None else f"{files} files you may read"
        return f"LLM: **{self.chain.backend_name}** ({self.backend.reason}) · index: **{size}**{who}"

    def ingest_upload(self, paths: list[Path], collection: str, identity: Identity) -> str:
        """Copy uploaded files into data/uploads/<collection>/ and index that folder (if the identity may), within
        the identity's rate limit. The files are parsed in a child process bounded in time and memory
        (serving.upload_parse_*); embedding and writing happen here. A refused file leaves nothing behind."""
        from ingest.archives import ArchiveLimits
        from ingest.indexer import Indexer
        from ingest.sandbox import IsolatedLoader
        from serving.uploads import copy_uploads, settle

        self.quotas.request(identity.limit_key)  # OverLimit, as on /v1
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,100}", collection):  # a folder name below uploads_dir, nothing else
            raise AccessDenied(f"{collection[:100]!r} is not a collection name; use letters, digits, - and _")
        if not self.access.upload_scope(identity).allows(collection):
            raise AccessDenied(
                f"you may not upload into {collection!r}; access.upload in the profile lists who may upload where"
            )
        serving = self.settings.serving
        uploads = self.settings.resolve(serving.uploads_dir)
        report = None
        with self._ingest_lock:
            aside = uploads / ".replaced" / collection  # no collection is named with a dot (the page's rule)
            staged = copy_uploads(paths, uploads / collection, serving.upload_max_mb, aside)
            loader = IsolatedLoader(
                ArchiveLimits.of(self.settings.ingest), serving.upload_parse_timeout_s, serving.upload_parse_max_mb
            )
            refused = {str(p) for p in staged.copied}  # until the run says otherwise
            try:
                if staged.copied:
                    indexer = Indexer(
                        self.settings.ingest,
                        self.settings.chunking,
                        self.index_dir,
                        self.retriever.embedder,
                        self.retriever.store,
                        loaders=dict.fromkeys(loader.file_types, loader),
                    )
                    try:
                        report = indexer.run([uploads / collection])
                    finally:
                        indexer.close()
                    refused = {s["path"] for s in report.skipped}
            finally:
                loader.close()
                settle(staged, refused)
        lines = []
        if report is not None:
            lines.append(
                f"Indexed {report.new + report.changed} file(s) into **{collection}** "
                f"({report.chunks_written} chunks); {report.unchanged} unchanged."
            )
            lines += [f"- skipped {Path(s['path']).name}: {s['reason']}" for s in report.skipped]
            self.recorder.action(
                "upload",
                identity,
                {"collection": collection, "files": [p.name for p in staged.copied], "chunks": report.chunks_written},
            )
        lines += [f"- refused {r}" for r in staged.refused]
        return "\n".join(lines) or "Nothing to index."


def build_app(settings: Settings, index_dir: Path | None = None, chat_model: ChatModel | None = None) -> Any:
    """The FastAPI app: API routes under /v1, sign-in at /login, the Gradio page at /; the authentication gate
    in front of all of it."""
    import gradio as gr
    from fastapi import FastAPI
    from starlette.middleware.cors import CORSMiddleware

    from serving.api import Api, allowed_methods, build_router
    from serving.auth import AuthGate
    from serving.errors import BodyLimit, MethodGuard, install_error_handlers
    from serving.hardening import SecurityHeaders
    from serving.metrics import HttpMetrics
    from serving.responses import ResponsesApi, add_routes
    from serving.signin import build_signin
    from serving.tracing import RequestIds, instrument
    from serving.ui import build_page

    assistant = Assistant(settings, index_dir, chat_model)
    if settings.audit.enabled and assistant.recorder.audit is not None:
        assistant.recorder.audit.prune(settings.audit.retention_days)
    assistant.conversations.prune(settings.storage.retention_days)
    if settings.privacy.redact:
        threading.Thread(target=_warm, args=(assistant,), daemon=True).start()
    app = FastAPI(title="kb-assistant", version="1", docs_url="/v1/docs", openapi_url="/v1/openapi.json")
    api = Api(assistant)
    conversations = ResponsesApi(api, assistant.conversations)
    router = build_router(api, lambda r: add_routes(r, conversations))
    app.include_router(router)
    app.include_router(build_signin(assistant.authenticator, settings.auth.public_url, assistant.recorder.action))
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
    # handler checks again, see serving/paths.py).
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
    app.add_middleware(AuthGate, authenticator=assistant.authenticator, open_paths=("/metrics",) if token else ())
    app.add_middleware(SecurityHeaders)
    if obs.metrics:
        app.add_middleware(HttpMetrics, metrics=assistant.metrics)
    app.add_middleware(RequestIds)
    if obs.tracing:
        instrument(app, obs)
    app.state.assistant = assistant
    return app


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
                {"error": {"message": "send the metrics token as 'Authorization: Bearer <token>'",
                           "type": "authentication_error", "param": None, "code": None}},
                status_code=401,
                headers={"www-authenticate": 'Bearer realm="metrics"', "cache-control": "no-store"},
            )  # fmt: skip
        identity = getattr(request.state, "identity", None)
        if token is None and (identity is None or access.read_scope(identity).collections is not None):
            return JSONResponse(
                {"error": {"message": "metrics count every collection: only a user who may read all of them sees "
                           "them; a scraper sends observability.metrics_token", "type": "permission_error",
                           "param": None, "code": None}},
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


def _warm(assistant: Assistant) -> None:
    """Loads the PII analyzer in the background, so the first answer does not wait for it."""
    try:
        assistant.redactor.warm()
    except Exception as exc:  # reported here; every later redaction raises the same clear error
        logger.warning("PII redaction is unavailable: %s", exc)
