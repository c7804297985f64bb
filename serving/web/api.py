"""The HTTP API under /v1: OpenAI-compatible chat completions over the knowledge base, retrieval, reranking,
health, models and the indexed files. Bodies are declared in serving/web/schemas.py; errors in serving/web/errors.py."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse

from configs.errors import KBError
from retrieval.filters import Filter, Scope, check_known
from retrieval.types import Chunk, Hit
from serving.access.identity import Identity
from serving.access.paths import served_file
from serving.access.quotas import Quotas
from serving.actions.flow import ActionServices
from serving.answer.results import Answer, Delta, Generation
from serving.observability.metrics import Metrics
from serving.shapes import MODEL_ID, asked, served
from serving.web.errors import ApiError, documented, kb_error
from serving.web.hardening import DOCUMENT_POLICY, AnswerStream, document_type
from serving.web.schemas import (
    ChatCompletion,
    ChatRequest,
    Filters,
    Health,
    ModelList,
    RerankRequest,
    RerankResponse,
    RetrieveRequest,
    RetrieveResponse,
    citations_out,
    kb_out,
    stream_schema,
    usage_out,
)


class ApiServices(ActionServices, Protocol):
    """What the /v1 routes use of the object graph the composition root builds (serving.assistant): a route can
    be built with only these."""

    quotas: Quotas
    metrics: Metrics

    def facets(self, identity: Identity) -> dict[str, list[str]]: ...

    def may_read_file(self, identity: Identity, source: str) -> bool: ...


METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]


def allowed_methods(router: APIRouter) -> Callable[[str], set[str] | None]:
    """For a path, the methods its route accepts (None: no such route): for the method guard."""

    def lookup(path: str) -> set[str] | None:
        for route in router.routes:
            if getattr(route, "path", None) == path and "{" not in path:
                return set(getattr(route, "methods", set()))
        return None

    return lookup


class Api:
    """The routes' shared state; each route is one method. Every route but /health acts for the identity the
    authentication gate found, within what access.groups lets that identity read."""

    def __init__(self, assistant: ApiServices) -> None:
        self.assistant = assistant
        self.chain = assistant.chain
        self.llm = assistant.settings.llm

    def identity(self, request: Request) -> Identity:
        """The request's identity, counted against its rate limit."""
        identity = getattr(request.state, "identity", None)
        if not isinstance(identity, Identity):  # the gate always sets one; never serve a request it did not see
            raise ApiError(401, "not authenticated", "authentication_error")
        self.assistant.quotas.request(_limit_key(identity, request))  # OverLimit: 429 (serving/web/errors.py)
        return identity

    def turn(
        self,
        request: Request,
        identity: Identity,
        question: str,
        history: list[dict[str, str]],
        filters: Filters | None,
        max_tokens: int | None,
        temperature: float | None,
    ) -> Turn:
        """A question as the chain needs it, for the identity, within its collections (filters checked, the
        token limit capped at the server's llm.max_tokens)."""
        return Turn(
            question,
            history,
            self._filter(filters, identity),
            Generation(min(max_tokens, self.llm.max_tokens) if max_tokens else None, temperature),
            identity,
            self.assistant.access.read_scope(identity),
            filters.model_dump(exclude_none=True) if filters else {},
        )

    def start_answer(self, identity: Identity, request: Request) -> Callable[[], None]:
        """Takes one of the identity's answer slots (429 over the limits); returns the function giving it back."""
        return self.assistant.quotas.start_answer(_limit_key(identity, request))

    def _filter(self, filters: Filters | None, identity: Identity) -> Filter:
        flt = Filter.parse(filters.model_dump(exclude_none=True) if filters else None)
        if not flt.is_empty():
            check_known(flt, self.assistant.facets(identity))  # names only what the identity may see
        return flt

    def health(self, request: Request) -> dict[str, Any]:
        identity = getattr(request.state, "identity", None)
        if identity is None:  # anonymous on an authenticated server: liveness only
            return {"status": "ok"}
        lexical = self.chain.retriever.lexical
        # The index's size covers every collection: only for the one local user of a server without sign-in.
        chunks = (len(lexical) if lexical else 0) if identity.via == "local" else None
        return {
            "status": "ok",
            "backend": self.chain.backend_name,
            "backend_reason": self.chain.backend_reason,
            "verifier": self.chain.verifier.name,
            "chunks": chunks,
        }

    def models(self, request: Request) -> dict[str, Any]:
        self.identity(request)
        return {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "owned_by": "local"}]}

    async def retrieve(self, body: RetrieveRequest, request: Request) -> dict[str, Any]:
        identity = self.identity(request)
        flt = self._filter(body.filters, identity)
        scope = self.assistant.access.read_scope(identity)
        # Off the event loop: a search (and a rerank) must not stall other requests.
        result = await run_in_threadpool(lambda: self.chain.retriever.search(body.query, flt, body.top_k, scope=scope))
        self.assistant.metrics.searched(result.timings_ms, result.warnings)
        return {
            "hits": [
                {
                    "id": h.chunk.id,
                    "text": h.chunk.text,
                    "score": h.score,
                    "ranks": h.ranks,
                    "metadata": h.chunk.to_record(),
                }
                for h in result.hits
            ],
            "relevant": result.relevant,
            "timings_ms": result.timings_ms,
            "warnings": list(result.warnings),
        }

    async def rerank(self, body: RerankRequest, request: Request) -> dict[str, Any]:
        """The configured reranker as a vLLM/Jina/Cohere-style endpoint, so other hosts can share one model."""
        self.identity(request)  # it reads only the texts it is sent, so any signed-in caller may use it
        reranker = self.chain.retriever.reranker
        if reranker is None:
            raise ApiError(404, "this server has no reranker; set retrieval.rerank to use one", "not_found")
        texts = [d if isinstance(d, str) else d.text for d in body.documents]
        hits = [Hit(Chunk(id=str(i), text=t, source=""), 0.0) for i, t in enumerate(texts)]
        ranked = await run_in_threadpool(reranker.rerank, body.query, hits)
        results = [
            {"index": int(h.chunk.id), "relevance_score": h.score, "document": {"text": h.chunk.text}}
            for h in ranked[: body.top_n or len(ranked)]
        ]
        return {"id": f"rerank-{uuid.uuid4().hex}", "model": body.model or reranker.name, "results": results}

    async def chat(self, body: ChatRequest, request: Request) -> Any:
        identity = self.identity(request)
        if not served(body.model):
            raise ApiError(
                404,
                f"model {body.model!r} is not served here; use {MODEL_ID!r} (GET /v1/models)",
                "invalid_request_error",
                "model_not_found",
            )
        found = asked(body.messages)
        if found is None:
            if any(m.role == "user" for m in body.messages):
                self.chain.validate("")  # the question is empty: its own clear error
            raise ApiError(400, "messages must contain a user message with the question")
        question, history = self.chain.validate(found[0]), found[1]
        # A request may ask for fewer tokens than the server's limit, never more (max_tokens is capped).
        turn = self.turn(request, identity, question, history, body.filters, body.max_tokens, body.temperature)
        created, cid = int(time.time()), f"chatcmpl-{uuid.uuid4().hex[:24]}"
        release = self.start_answer(identity, request)
        if body.stream:
            events = _sse(self.assistant, turn, cid, created, release)
            return AnswerStream(events, release)
        try:
            answer, audit_id = await run_in_threadpool(self._answer, turn)
        finally:
            release()
        return {
            "id": cid,
            "object": "chat.completion",
            "created": created,
            "model": MODEL_ID,
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": answer.text}, "finish_reason": "stop"}
            ],
            "usage": usage_out(answer),
            "citations": citations_out(answer),
            "kb": kb_out(answer, audit_id),
        }

    def _answer(self, turn: Turn) -> tuple[Answer, int | None]:
        answer = self.chain.answer(turn.question, turn.history, turn.filters, turn.generation, turn.scope)
        return answer, self.assistant.recorder.answer(turn.identity, answer, turn.filters_in, turn.history)

    def files(
        self, request: Request, source: str = Query(min_length=1, description="an indexed file's path")
    ) -> FileResponse:
        identity = self.identity(request)
        # A file outside the identity's collections is "not indexed" for them: its existence is not confirmed.
        if not self.assistant.may_read_file(identity, source):
            raise ApiError(404, "not an indexed file", "not_found")
        if source.startswith(("http://", "https://")):
            raise ApiError(404, "a crawled web page is not served from here; open its URL", "not_found")
        path = served_file(source)
        if path is None:
            raise ApiError(404, "the file is no longer on disk (or was replaced by a link); re-run ingest", "not_found")
        media_type, disposition = document_type(path)
        headers = {"content-security-policy": DOCUMENT_POLICY, "x-content-type-options": "nosniff"}
        return FileResponse(
            path, media_type=media_type, filename=path.name, content_disposition_type=disposition, headers=headers
        )

    def elsewhere(self, path: str) -> None:
        """Any other path under /v1 (a wrong method on a real one is the method guard's: serving/web/errors.py)."""
        raise ApiError(404, f"no route /v1/{path}; see /v1/docs", "not_found")


def build_router(api: Api, more: Callable[[APIRouter], None] | None = None) -> APIRouter:
    """The /v1 routes, each documented with its body, response and the errors it may answer with; `more` adds
    routes of other modules (the Responses and Conversations APIs) before the catch-all."""
    router = APIRouter(prefix="/v1")
    stream = {"content": {"text/event-stream": {"schema": stream_schema()}}, "description": "the answer"}
    inline = {"content": {"*/*": {}}, "description": "the file, inline"}
    routes: list[tuple[str, Callable[..., Any], str, Any, tuple[int, ...], dict[int | str, Any]]] = [
        ("/models", api.models, "GET", ModelList, (401, 429), {}),
        ("/retrieve", api.retrieve, "POST", RetrieveResponse, (400, 401, 413, 429, 503), {}),
        ("/rerank", api.rerank, "POST", RerankResponse, (400, 401, 404, 413, 429, 503), {}),
        ("/chat/completions", api.chat, "POST", ChatCompletion, (400, 401, 403, 404, 413, 429, 503), {200: stream}),
        ("/files", api.files, "GET", None, (400, 401, 404, 429), {200: inline}),
    ]
    router.add_api_route(
        "/health", api.health, methods=["GET"], response_model=Health, response_model_exclude_none=True
    )
    for path, endpoint, method, model, errors, extra in routes:
        router.add_api_route(
            path,
            endpoint,
            methods=[method],
            response_model=model,
            response_class=FileResponse if model is None else JSONResponse,
            responses={**extra, **documented(*errors)},
        )
    if more is not None:
        more(router)
    router.add_api_route("/{path:path}", api.elsewhere, methods=METHODS, include_in_schema=False)
    return router


@dataclass(frozen=True)
class Turn:
    """One question as the chain needs it, with who asked and what they may read."""

    question: str
    history: list[dict[str, str]]
    filters: Filter
    generation: Generation
    identity: Identity
    scope: Scope
    filters_in: dict[str, Any]  # as the request gave them, for the audit trail


def _limit_key(identity: Identity, request: Request) -> str:
    return identity.limit_key_from(request.client.host if request.client else None)


def _sse(assistant: ApiServices, turn: Turn, cid: str, created: int, release: Callable[[], None]) -> Iterator[str]:
    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        payload = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": MODEL_ID,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
        return f"data: {json.dumps(payload)}\n\n"

    try:
        yield chunk({"role": "assistant"})
        try:
            for event in assistant.chain.stream(turn.question, turn.history, turn.filters, turn.generation, turn.scope):
                if isinstance(event, Delta):
                    yield chunk({"content": event.text})
                elif isinstance(event, Answer):
                    audit_id = assistant.recorder.answer(turn.identity, event, turn.filters_in, turn.history)
                    extra = {"citations": citations_out(event), "kb": kb_out(event, audit_id)}
                    yield chunk({}, "stop", usage=usage_out(event), **extra)
        except KBError as exc:  # the response has started: the error travels as an event, in the same shape
            _, body = kb_error(exc)
            yield f"data: {json.dumps(body)}\n\n"
        yield "data: [DONE]\n\n"
    finally:
        release()  # also when the client goes away mid-answer
