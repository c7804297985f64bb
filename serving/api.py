"""The HTTP API under /v1: OpenAI-compatible chat completions over the knowledge base, retrieval, reranking,
health, models and the indexed files. Bodies are declared in serving/schemas.py; errors in serving/errors.py."""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse

from configs.errors import KBError
from configs.settings import LLMSettings
from retrieval.filters import Filter, check_known
from retrieval.types import Chunk, Hit
from serving.chain import Answer, AnswerChain, Delta, Generation
from serving.errors import ApiError, documented, kb_error
from serving.schemas import (
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

MODEL_ID = "kb-assistant"
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
    """The routes' shared state; each route is one method."""

    def __init__(
        self,
        chain: AnswerChain,
        llm: LLMSettings,
        api_key: str | None,
        facets: Callable[[], dict[str, list[str]]],
    ) -> None:
        self.chain = chain
        self.llm = llm
        self.api_key = api_key
        self.facets = facets

    def authorised(self, request: Request) -> None:
        if not self.api_key:
            return
        header = request.headers.get("authorization", "")
        if not (header.startswith("Bearer ") and secrets.compare_digest(header[7:], self.api_key)):
            raise ApiError(401, "missing or wrong API key; send Authorization: Bearer <key>", "authentication_error")

    def _filter(self, filters: Filters | None) -> Filter:
        flt = Filter.parse(filters.model_dump(exclude_none=True) if filters else None)
        if not flt.is_empty():
            check_known(flt, self.facets())
        return flt

    def health(self) -> dict[str, Any]:
        lexical = self.chain.retriever.lexical
        return {
            "status": "ok",
            "backend": self.chain.backend_name,
            "backend_reason": self.chain.backend_reason,
            "verifier": self.chain.verifier.name,
            "chunks": len(lexical) if lexical else 0,
        }

    def models(self) -> dict[str, Any]:
        return {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "owned_by": "local"}]}

    async def retrieve(self, body: RetrieveRequest) -> dict[str, Any]:
        flt = self._filter(body.filters)
        # Off the event loop: a search (and a rerank) must not stall other requests.
        result = await run_in_threadpool(self.chain.retriever.search, body.query, flt, body.top_k)
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

    async def rerank(self, body: RerankRequest) -> dict[str, Any]:
        """The configured reranker as a vLLM/Jina/Cohere-style endpoint, so other hosts can share one model."""
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

    async def chat(self, body: ChatRequest) -> Any:
        if body.model not in (None, MODEL_ID):
            raise ApiError(
                404,
                f"model {body.model!r} is not served here; use {MODEL_ID!r} (GET /v1/models)",
                "invalid_request_error",
                "model_not_found",
            )
        # The question is the last user message that says something; the messages before it are the history.
        users = [i for i, m in enumerate(body.messages) if m.role == "user" and m.text().strip()]
        if not users:
            if any(m.role == "user" for m in body.messages):
                self.chain.validate("")  # the question is empty: its own clear error
            raise ApiError(400, "messages must contain a user message with the question")
        question = self.chain.validate(body.messages[users[-1]].text())
        history = [
            {"role": m.role, "content": m.text()} for m in body.messages[: users[-1]] if m.role in ("user", "assistant")
        ]
        flt = self._filter(body.filters)
        # A request may ask for fewer tokens than the server's limit, never more (max_tokens is capped).
        max_tokens = min(body.max_tokens, self.llm.max_tokens) if body.max_tokens else None
        generation = Generation(max_tokens, body.temperature)
        created, cid = int(time.time()), f"chatcmpl-{uuid.uuid4().hex[:24]}"
        if body.stream:
            events = _sse(self.chain, question, history, flt, generation, cid, created)
            return StreamingResponse(events, media_type="text/event-stream")
        answer = await run_in_threadpool(self.chain.answer, question, history, flt, generation)
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
            "kb": kb_out(answer),
        }

    def files(self, source: str = Query(min_length=1, description="an indexed file's path")) -> FileResponse:
        if source not in self.facets()["source"]:
            raise ApiError(404, "not an indexed file", "not_found")
        path = Path(source)
        if not path.is_file():
            raise ApiError(404, "the file is no longer on disk; re-run ingest", "not_found")
        return FileResponse(path, filename=path.name, content_disposition_type="inline")

    def elsewhere(self, path: str) -> None:
        """Any other path under /v1 (a wrong method on a real one is the method guard's: serving/errors.py)."""
        raise ApiError(404, f"no route /v1/{path}; see /v1/docs", "not_found")


def build_router(api: Api) -> APIRouter:
    """The /v1 routes, each documented with its body, response and the errors it may answer with."""
    router = APIRouter(prefix="/v1")
    auth = [Depends(api.authorised)]
    stream = {"content": {"text/event-stream": {"schema": stream_schema()}}, "description": "the answer"}
    inline = {"content": {"*/*": {}}, "description": "the file, inline"}
    routes: list[tuple[str, Callable[..., Any], str, Any, tuple[int, ...], dict[int | str, Any]]] = [
        ("/models", api.models, "GET", ModelList, (401,), {}),
        ("/retrieve", api.retrieve, "POST", RetrieveResponse, (400, 401, 413, 503), {}),
        ("/rerank", api.rerank, "POST", RerankResponse, (400, 401, 404, 413, 503), {}),
        ("/chat/completions", api.chat, "POST", ChatCompletion, (400, 401, 404, 413, 503), {200: stream}),
        ("/files", api.files, "GET", None, (400, 401, 404), {200: inline}),
    ]
    router.add_api_route("/health", api.health, methods=["GET"], response_model=Health)
    for path, endpoint, method, model, errors, extra in routes:
        router.add_api_route(
            path,
            endpoint,
            methods=[method],
            response_model=model,
            response_class=FileResponse if model is None else JSONResponse,
            dependencies=auth,
            responses={**extra, **documented(*errors)},
        )
    router.add_api_route("/{path:path}", api.elsewhere, methods=METHODS, include_in_schema=False)
    return router


def _sse(
    chain: AnswerChain,
    question: str,
    history: list[dict[str, str]],
    flt: Filter,
    generation: Generation,
    cid: str,
    created: int,
) -> Iterator[str]:
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

    yield chunk({"role": "assistant"})
    try:
        for event in chain.stream(question, history, flt, generation):
            if isinstance(event, Delta):
                yield chunk({"content": event.text})
            elif isinstance(event, Answer):
                yield chunk({}, "stop", usage=usage_out(event), citations=citations_out(event), kb=kb_out(event))
    except KBError as exc:  # the response has started: the error travels as an event, in the same shape
        _, body = kb_error(exc)
        yield f"data: {json.dumps(body)}\n\n"
    yield "data: [DONE]\n\n"
