"""The HTTP API: OpenAI-compatible chat completions over the knowledge base, retrieval, health, files."""

from __future__ import annotations

import json
import logging
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from fastapi import APIRouter, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from configs.errors import KBError, ModelUnavailable, RetrievalError
from retrieval.filters import Filter
from retrieval.types import Chunk, Hit
from serving.chain import Answer, AnswerChain, Delta

logger = logging.getLogger(__name__)
RequestT = TypeVar("RequestT", bound=BaseModel)


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return " ".join(str(p.get("text", "")) for p in self.content if isinstance(p, dict))
        return self.content or ""


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # OpenAI clients send many optional fields we do not use
    model: str | None = None
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    filters: dict[str, Any] | None = None


class RetrieveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: str
    filters: dict[str, Any] | None = None
    top_k: int = Field(default=8, ge=1, le=100)


class RerankDocument(BaseModel):
    text: str


class RerankRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # e.g. TEI's "texts" (same documents) or "return_documents"
    model: str | None = None
    query: str = Field(min_length=1)
    documents: list[str | RerankDocument] = Field(min_length=1, max_length=1000)
    top_n: int | None = Field(default=None, ge=1)


def error(status: int, message: str, kind: str) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind}}, status_code=status)


def _kb_error(exc: KBError) -> JSONResponse:
    if isinstance(exc, ModelUnavailable):
        return error(503, str(exc), "model_unavailable")
    if isinstance(exc, RetrievalError):
        return error(400, str(exc), "invalid_request_error")
    return error(500, str(exc), "server_error")


def _citations_payload(answer: Answer) -> list[dict[str, Any]]:
    return [
        {
            "index": c.index,
            "source": c.source,
            "page": c.page,
            "section": c.section,
            "text": c.text,
            "relpath": c.relpath,
            "score": c.score,
            "cited": c.index in answer.cited,
        }
        for c in answer.citations
    ]


def _kb_payload(answer: Answer) -> dict[str, Any]:
    """How the answer was made: mode, backend, notice, and the generated statements left out as unsupported."""
    return {
        "mode": answer.mode,
        "backend": answer.model,
        "notice": answer.notice,
        "standalone_question": answer.standalone_question,
        "unverified": [{"text": r.text, "reasons": list(r.reasons), "score": r.score} for r in answer.removed],
        "timings_ms": {k: round(v, 1) for k, v in answer.timings_ms.items()},
    }


def check_filter_values(flt: Filter, facets: dict[str, list[str]]) -> None:
    """A filter value the index has never seen is almost always a typo: say so instead of answering nothing."""
    for field, key in (("collections", "collection"), ("file_types", "file_type"), ("tags", "tag")):
        unknown = [v for v in getattr(flt, field) if v not in facets.get(key, [])]
        if unknown:
            known = ", ".join(facets.get(key, [])) or "none"
            raise RetrievalError(f"unknown {key} {', '.join(map(repr, unknown))} in filters (known: {known})")


def build_router(
    chain: AnswerChain, api_key: str | None, max_request_bytes: int, facets: Callable[[], dict[str, list[str]]]
) -> APIRouter:
    """Routes under /v1; facets() lists the index's filter values and files (only those may be served)."""
    router = APIRouter(prefix="/v1")

    def parse_filter(data: dict[str, Any] | None) -> Filter:
        flt = Filter.parse(data)
        if not flt.is_empty():
            check_filter_values(flt, facets())
        return flt

    def authorised(request: Request) -> bool:
        if not api_key:
            return True
        header = request.headers.get("authorization", "")
        return header.startswith("Bearer ") and secrets.compare_digest(header[7:], api_key)

    async def body_of(request: Request, model: type[RequestT]) -> RequestT | JSONResponse:
        if not authorised(request):
            return error(401, "missing or wrong API key; send Authorization: Bearer <key>", "authentication_error")
        raw = await request.body()
        if len(raw) > max_request_bytes:
            return error(
                413, f"request body is {len(raw):,} bytes; the limit is {max_request_bytes:,}", "invalid_request_error"
            )
        try:
            return model.model_validate_json(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "body"
            return error(400, f"invalid request: {where}: {first['msg']}", "invalid_request_error")

    @router.get("/health")
    def health() -> dict[str, Any]:
        lexical = chain.retriever.lexical
        return {
            "status": "ok",
            "backend": chain.backend_name,
            "backend_reason": chain.backend_reason,
            "verifier": chain.verifier.name,
            "chunks": len(lexical) if lexical else 0,
        }

    @router.get("/models")
    def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": "kb-assistant", "object": "model", "owned_by": "local"}]}

    @router.post("/retrieve")
    async def retrieve(request: Request) -> Any:
        body = await body_of(request, RetrieveRequest)
        if isinstance(body, JSONResponse):
            return body
        try:
            flt = parse_filter(body.filters)
            # Off the event loop: a search (and a rerank) must not stall other requests.
            result = await run_in_threadpool(chain.retriever.search, body.query, flt, body.top_k)
        except KBError as exc:
            return _kb_error(exc)
        hits = [
            {
                "id": h.chunk.id,
                "text": h.chunk.text,
                "score": h.score,
                "ranks": h.ranks,
                "metadata": h.chunk.to_record(),
            }
            for h in result.hits
        ]
        return {
            "hits": hits,
            "relevant": result.relevant,
            "timings_ms": result.timings_ms,
            "warnings": list(result.warnings),
        }

    @router.post("/rerank")
    async def rerank(request: Request) -> Any:
        """The configured reranker as a vLLM/Jina/Cohere-style endpoint, so other hosts can share one model."""
        body = await body_of(request, RerankRequest)
        if isinstance(body, JSONResponse):
            return body
        reranker = chain.retriever.reranker
        if reranker is None:
            return error(404, "this server has no reranker; set retrieval.rerank to use one", "invalid_request_error")
        texts = [d if isinstance(d, str) else d.text for d in body.documents]
        hits = [Hit(Chunk(id=str(i), text=t, source=""), 0.0) for i, t in enumerate(texts)]
        try:
            ranked = await run_in_threadpool(reranker.rerank, body.query, hits)
        except KBError as exc:
            return _kb_error(exc)
        results = [
            {"index": int(h.chunk.id), "relevance_score": h.score, "document": {"text": h.chunk.text}}
            for h in ranked[: body.top_n or len(ranked)]
        ]
        return {"id": f"rerank-{uuid.uuid4().hex}", "model": body.model or reranker.name, "results": results}

    @router.post("/chat/completions")
    async def chat(request: Request) -> Any:
        body = await body_of(request, ChatRequest)
        if isinstance(body, JSONResponse):
            return body
        users = [i for i, m in enumerate(body.messages) if m.role == "user"]
        if not users:
            return error(400, "messages must contain a user message with the question", "invalid_request_error")
        question = body.messages[users[-1]].text()
        history = [
            {"role": m.role, "content": m.text()} for m in body.messages[: users[-1]] if m.role in ("user", "assistant")
        ]
        try:
            flt = parse_filter(body.filters)
            chain.validate(question)
        except KBError as exc:
            return _kb_error(exc)
        created = int(time.time())
        cid = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        model = body.model or "kb-assistant"
        if body.stream:
            return StreamingResponse(
                _sse(chain, question, history, flt, cid, created, model), media_type="text/event-stream"
            )
        try:
            answer = await run_in_threadpool(chain.answer, question, history, flt)
        except KBError as exc:
            return _kb_error(exc)
        return {
            "id": cid,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": answer.text}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            "citations": _citations_payload(answer),
            "kb": _kb_payload(answer),
        }

    @router.get("/files")
    def files(request: Request, source: str) -> Any:
        if not authorised(request):
            return error(401, "missing or wrong API key; send Authorization: Bearer <key>", "authentication_error")
        if source not in facets()["source"]:
            return error(404, "not an indexed file", "not_found")
        path = Path(source)
        if not path.is_file():
            return error(404, "the file is no longer on disk; re-run ingest", "not_found")
        return FileResponse(path, filename=path.name, content_disposition_type="inline")

    return router


def _sse(
    chain: AnswerChain, question: str, history: list[dict[str, str]], flt: Filter, cid: str, created: int, model: str
) -> Iterator[str]:
    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        payload = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
        return f"data: {json.dumps(payload)}\n\n"

    yield chunk({"role": "assistant"})
    try:
        for event in chain.stream(question, history, flt):
            if isinstance(event, Delta):
                yield chunk({"content": event.text})
            else:
                yield chunk(
                    {},
                    "stop",
                    citations=_citations_payload(event),
                    kb=_kb_payload(event),
                )
    except KBError as exc:
        kind = "model_unavailable" if isinstance(exc, ModelUnavailable) else "invalid_request_error"
        yield f"data: {json.dumps({'error': {'message': str(exc), 'type': kind}})}\n\n"
    yield "data: [DONE]\n\n"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(KBError)
    async def _kb(_request: Request, exc: KBError) -> JSONResponse:
        return _kb_error(exc)
