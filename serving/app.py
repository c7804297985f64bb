"""Builds the serving object graph from Settings: one process serves the page at / and the API under /v1."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from configs.settings import Settings
from retrieval.embeddings import build_embedder
from retrieval.retriever import Retriever, build_retriever
from serving.backends import Backend, choose_backend
from serving.chain import AnswerChain
from serving.extractive import ExtractiveAnswerer
from serving.feedback import FeedbackStore
from serving.llm import ChatModel
from serving.verify import FeatureVerifier

logger = logging.getLogger(__name__)


class Assistant:
    """Everything the page and the API share: the chain, the feedback store, facets and uploads."""

    def __init__(self, settings: Settings, index_dir: Path | None = None, chat_model: ChatModel | None = None) -> None:
        self.settings = settings
        self.index_dir = index_dir or settings.resolve(settings.index.path)
        embedder = build_embedder(settings.embedding, settings.resolve(settings.embedding.cache_dir))
        self.retriever: Retriever = build_retriever(settings, self.index_dir, embedder)
        if chat_model is not None:
            self.backend = Backend(chat_model, "given", "given by the caller")
        else:
            self.backend = choose_backend(settings.llm, settings.resolve(settings.llm.model_dir))
        self.chain = AnswerChain(
            self.retriever,
            self.backend.model,
            ExtractiveAnswerer(embedder),
            FeatureVerifier(),
            settings.answer,
            settings.llm,
            self.backend.reason,
        )
        self.feedback = FeedbackStore(settings.resolve(settings.serving.feedback_db))
        self._ingest_lock = threading.Lock()

    def facets(self) -> dict[str, list[str]]:
        """Values the filters can take, read from the index."""
        lexical = self.retriever.lexical
        if lexical is None:
            return {"collection": [], "file_type": [], "tag": [], "source": []}
        return {k: lexical.columns.values(k) for k in ("collection", "file_type", "tag", "source")}

    def indexed_sources(self) -> set[str]:
        return set(self.facets()["source"])

    def status(self) -> str:
        lexical = self.retriever.lexical
        chunks = len(lexical) if lexical else 0
        files = len(self.indexed_sources())
        return (
            f"LLM: **{self.chain.backend_name}** ({self.backend.reason}) · "
            f"index: **{files} files, {chunks} chunks** ({self.index_dir})"
        )

    def ingest_upload(self, paths: list[Path], collection: str) -> str:
        """Copy uploaded files into data/uploads/<collection>/ and index that folder."""
        from ingest.indexer import build_indexer
        from serving.uploads import copy_uploads

        uploads = self.settings.resolve(self.settings.serving.uploads_dir)
        copied, refused = copy_uploads(paths, uploads / collection, self.settings.serving.upload_max_mb)
        with self._ingest_lock:
            indexer = build_indexer(
                self.settings, index_dir=self.index_dir, embedder=self.retriever.embedder, store=self.retriever.store
            )
            try:
                report = indexer.run([uploads / collection]) if copied else None
            finally:
                indexer.close()
        lines = []
        if report is not None:
            lines.append(
                f"Indexed {report.new + report.changed} file(s) into **{collection}** "
                f"({report.chunks_written} chunks); {report.unchanged} unchanged."
            )
            lines += [f"- skipped {Path(s['path']).name}: {s['reason']}" for s in report.skipped]
        lines += [f"- refused {r}" for r in refused]
        return "\n".join(lines) or "Nothing to index."


def build_app(settings: Settings, index_dir: Path | None = None, chat_model: ChatModel | None = None) -> Any:
    """The FastAPI app: API routes under /v1, the Gradio page mounted at /."""
    import gradio as gr
    from fastapi import FastAPI

    from serving.api import Api, allowed_methods, build_router
    from serving.errors import BodyLimit, MethodGuard, install_error_handlers
    from serving.ui import build_page

    assistant = Assistant(settings, index_dir, chat_model)
    app = FastAPI(title="kb-assistant", version="1", docs_url="/v1/docs", openapi_url="/v1/openapi.json")
    api_key = settings.serving.api_key.get_secret_value() if settings.serving.api_key else None
    router = build_router(Api(assistant.chain, settings.llm, api_key, assistant.facets))
    app.include_router(router)
    install_error_handlers(app)
    app.add_middleware(BodyLimit, max_bytes=settings.serving.max_request_kb * 1024)
    app.add_middleware(MethodGuard, allowed=allowed_methods(router))
    page = build_page(assistant.chain, assistant.feedback, assistant.facets, assistant.status, assistant.ingest_upload)
    auth = None
    if settings.serving.auth_user and settings.serving.auth_password:
        auth = (settings.serving.auth_user, settings.serving.auth_password.get_secret_value())
    app = gr.mount_gradio_app(
        app,
        page,
        path="/",
        auth=auth,
        server_name=settings.serving.host,
        server_port=settings.serving.port,
        css=page.kb_css,
        footer_links=[],
        max_file_size=f"{settings.serving.upload_max_mb:g}mb",
    )
    app.state.assistant = assistant
    return app
