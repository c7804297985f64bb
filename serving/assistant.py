"""The serving object graph built from Settings: the chain, access rules, authentication, quotas, the audit trail,
feedback, facets and uploads. Routes and the page take it; it imports none of them (serving.app assembles them)."""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from configs.audit import AuditLog
from configs.environment import prometheus_multiprocess
from configs.errors import AccessDenied
from configs.settings import Settings
from retrieval.embeddings import build_embedder
from retrieval.filters import Scope
from retrieval.retriever import Retriever, build_retriever
from serving.access.auth import Authenticator
from serving.access.identity import Access, Identity
from serving.access.keys import KeyStore
from serving.access.oidc import OidcProvider
from serving.access.pii import Redactor, redacting
from serving.access.quotas import Quotas
from serving.actions.tools import SEARCH, Toolbox, search_results
from serving.answer.chain import AnswerChain
from serving.answer.extractive import ExtractiveAnswerer
from serving.answer.verify.verifier import FeatureVerifier
from serving.llm.backends import Backend, choose_backend
from serving.llm.protocol import ChatModel, supports_tools
from serving.observability.metrics import IndexCollector, Metrics
from serving.observability.recorder import Recorder
from serving.store.conversations import ConversationStore
from serving.store.feedback import FeedbackStore

if TYPE_CHECKING:
    from ingest.watch import FolderWatch

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
            model = redacting(model, self.redactor)
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
        actions = settings.tools.enabled and any(name != SEARCH for name in self.toolbox.tools)
        if actions and not supports_tools(model):  # configured, but this model cannot be offered them: say so now
            logger.warning(
                "tools.enabled is on but the model %s cannot be offered tools: actions are off; use an "
                "OpenAI-compatible server with tool calling or a local GGUF (llm.backend)",
                model.name if model is not None else "(none: extractive answers)",
            )
        self.metrics = Metrics(multiprocess=prometheus_multiprocess())
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

    def folder_watch(self) -> FolderWatch | None:
        """What keeps ingest.watch_paths in sync with this index while the server runs (None when no folder is
        configured): run() it in a thread, set its stop to end it. Its runs share the uploads' lock."""
        folders = [self.settings.resolve(p) for p in self.settings.ingest.watch_paths]
        if not folders:
            return None
        from ingest.indexer import Indexer
        from ingest.watch import FolderWatch

        ingest = self.settings.ingest
        indexer = Indexer(ingest, self.settings.chunking, self.index_dir, self.retriever.embedder, self.retriever.store)

        def report(r: Any) -> None:
            logger.info(
                "watch: %d new, %d changed, %d moved, %d deleted, %d skipped",
                r.new,
                r.changed,
                r.moved,
                r.deleted,
                len(r.skipped),
            )

        return FolderWatch(
            indexer, folders, ingest.watch_debounce_s, ingest.watch_max_delay_s, report, self._ingest_lock
        )

    def ingest_upload(
        self, paths: list[Path], collection: str, identity: Identity, limit_key: str | None = None
    ) -> str:
        """Copy uploaded files into data/uploads/<collection>/ and index that folder (if the identity may), within
        the identity's rate limit. The files are parsed in a child process bounded in time and memory
        (serving.upload_parse_*); embedding and writing happen here. A refused file leaves nothing behind."""
        from ingest.archives import ArchiveLimits
        from ingest.indexer import Indexer
        from ingest.ocr import OcrOptions
        from ingest.sandbox import IsolatedLoader
        from serving.store.uploads import copy_uploads, settle

        self.quotas.request(limit_key or identity.limit_key)  # OverLimit, as on /v1 (the page passes its key)
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
                ArchiveLimits.of(self.settings.ingest),
                serving.upload_parse_timeout_s,
                serving.upload_parse_max_mb,
                OcrOptions.of(self.settings.ingest),
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
