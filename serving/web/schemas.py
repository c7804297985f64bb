"""The HTTP API's bodies, declared once: FastAPI validates requests with them and publishes them in
/v1/openapi.json, so clients, generators and fuzzers see the same contract the server enforces."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from serving.answer.results import Answer


class ErrorDetail(BaseModel):
    message: str
    type: str
    code: str | None = None


class ErrorResponse(BaseModel):
    """Every error the API returns: OpenAI's error shape."""

    error: ErrorDetail


def _integral(value: Any) -> Any:
    """JSON Schema counts 5.0 as an integer; strict pydantic would not."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


Positive = Annotated[int, Field(ge=1), BeforeValidator(_integral)]
DATE = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$"
TEXT = r"\S"  # at least one character that is not white space


class Filters(BaseModel):
    """AND across fields, OR within one; collections, file types and tags must exist in the index (a value it
    has never seen is almost always a typo, answered with 400 and the known values)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    collections: list[str] | None = None
    file_types: list[str] | None = None
    tags: list[str] | None = None
    sources: list[str] | None = None
    modified_after: str | None = Field(default=None, pattern=DATE, description="YYYY-MM-DD (inclusive)")
    modified_before: str | None = Field(default=None, pattern=DATE, description="YYYY-MM-DD (inclusive)")


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)
    type: str = "text"
    text: str = ""


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None  # the question's length: answer.max_question_chars

    def text(self) -> str:
        if isinstance(self.content, list):
            return " ".join(p.text for p in self.content)
        return self.content or ""


class ChatRequest(BaseModel):
    """OpenAI's chat completion request; the question is the last user message, earlier ones are the history."""

    # OpenAI clients send many optional fields that do not apply here; the declared ones are typed strictly (no
    # false for a temperature, no "5" for max_tokens).
    model_config = ConfigDict(extra="allow", strict=True)
    model: str | None = Field(default=None, description="kb-assistant (GET /v1/models); omit for the default")
    messages: list[ChatMessage] = Field(
        min_length=1,
        json_schema_extra={
            "contains": {
                "required": ["role", "content"],
                "properties": {"role": {"const": "user"}, "content": {"type": "string", "pattern": TEXT}},
            }
        },
    )
    stream: bool = False
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: Positive | None = Field(default=None, description="capped at the server's llm.max_tokens")
    filters: Filters | None = None


class RetrieveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    query: str = Field(min_length=1, max_length=4000, pattern=TEXT)
    filters: Filters | None = None
    top_k: Annotated[int, Field(ge=1, le=100), BeforeValidator(_integral)] = 8


class RerankDocument(BaseModel):
    text: str


class RerankRequest(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)  # e.g. TEI's "texts" (same documents) or "return_documents"
    model: str | None = None
    query: str = Field(min_length=1)
    documents: list[str | RerankDocument] = Field(min_length=1, max_length=1000)
    top_n: Positive | None = None


class CitationOut(BaseModel):
    index: int
    source: str
    relpath: str
    page: int | None
    section: str
    text: str
    score: float
    cited: bool
    withheld: bool = Field(
        description="the passage held text addressed to the assistant, withheld from the model (shown here verbatim)"
    )
    ocr: bool = Field(default=False, description="the passage was read by OCR from a scanned page or an image")


class UnverifiedOut(BaseModel):
    text: str
    reasons: list[str]
    score: float


class PartOut(BaseModel):
    """One part of the question: its text, the kind of answer it asks for, and whether the sources answer it."""

    text: str
    kind: Literal["fact", "procedure", "summary", "comparison", "yesno", "definition"]
    status: Literal["answered", "not found"]
    citations: list[int] = Field(description="the source numbers the answer uses for this part")
    filled_from_sources: bool = Field(
        default=False, description="the generated answer skipped this part: its answer is the sources' own sentences"
    )


class KbOut(BaseModel):
    """How the answer was made."""

    mode: str
    backend: str
    notice: str | None
    standalone_question: str
    unverified: list[UnverifiedOut]
    timings_ms: dict[str, float]
    audit_id: int | None = Field(default=None, description="the answer's record in the audit trail")
    parts: list[PartOut] = Field(default_factory=list, description="what the question asked, part by part")


# The usage block of a chat completion body. The name is the OpenAPI schema's (/v1/openapi.json), so it stays;
# the LLM layer counts tokens in serving.llm.protocol.TokenUsage, which the routes turn into this.
class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatChoice(BaseModel):
    index: int
    message: dict[str, str]
    finish_reason: str


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage
    citations: list[CitationOut]
    kb: KbOut


class ChunkDelta(BaseModel):
    role: str | None = None
    content: str | None = None


class ChunkChoice(BaseModel):
    index: int
    delta: ChunkDelta
    finish_reason: str | None


class ChatCompletionChunk(BaseModel):
    """One event of a streamed answer; the last carries usage, citations and kb."""

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None = None
    citations: list[CitationOut] | None = None
    kb: KbOut | None = None


def stream_schema() -> dict[str, Any]:
    """Each server-sent event: its data is a JSON chunk or error, or the final [DONE] (self-contained: the models'
    definitions are inlined, as an event schema in OpenAPI cannot point into the models' own $defs)."""
    data = {
        "anyOf": [
            _inlined(ChatCompletionChunk.model_json_schema()),
            _inlined(ErrorResponse.model_json_schema()),
        ]
    }
    return {
        "type": "object",
        "required": ["data"],
        "properties": {
            "data": {
                "description": "a JSON chat.completion.chunk or error, or [DONE] at the end",
                "anyOf": [
                    {"type": "string", "const": "[DONE]"},
                    {"type": "string", "contentMediaType": "application/json", "contentSchema": data},
                ],
            }
        },
    }


def _inlined(schema: dict[str, Any]) -> dict[str, Any]:
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(defs[node["$ref"].rsplit("/", 1)[-1]])
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    return dict(resolve(schema))


class RetrievedHit(BaseModel):
    id: str
    text: str
    score: float
    ranks: dict[str, int]
    metadata: dict[str, Any]


class RetrieveResponse(BaseModel):
    hits: list[RetrievedHit]
    relevant: bool
    timings_ms: dict[str, float]
    warnings: list[str]


class RerankResult(BaseModel):
    index: int
    relevance_score: float
    document: RerankDocument


class RerankResponse(BaseModel):
    id: str
    model: str
    results: list[RerankResult]


class Health(BaseModel):
    """Liveness for anyone; what is loaded and how much is indexed only for a caller who may use the server."""

    status: str
    backend: str | None = None
    backend_reason: str | None = None
    verifier: str | None = None
    chunks: int | None = None


class ModelCard(BaseModel):
    id: str
    object: str = "model"
    owned_by: str = "local"


class ModelList(BaseModel):
    object: str = "list"
    data: list[ModelCard]


def citations_out(answer: Answer) -> list[dict[str, Any]]:
    """An answer's sources as the API and the stream's last event carry them."""
    return [
        CitationOut(
            index=c.index,
            source=c.source,
            relpath=c.relpath,
            page=c.page,
            section=c.section,
            text=c.text,
            score=c.score,
            cited=c.index in answer.cited,
            withheld=c.withheld,
            ocr=c.ocr,
        ).model_dump()
        for c in answer.citations
    ]


def kb_out(answer: Answer, audit_id: int | None = None) -> dict[str, Any]:
    """How the answer was made: mode, backend, notice, and the generated statements left out as unsupported."""
    return KbOut(
        mode=answer.mode,
        backend=answer.model,
        notice=answer.notice,
        standalone_question=answer.standalone_question,
        unverified=[UnverifiedOut(text=r.text, reasons=list(r.reasons), score=r.score) for r in answer.removed],
        timings_ms={k: round(v, 1) for k, v in answer.timings_ms.items()},
        audit_id=audit_id,
        parts=[
            PartOut(
                text=p.text,
                kind=p.kind,  # type: ignore[arg-type]
                status="answered" if p.found else "not found",
                citations=list(p.cited),
                filled_from_sources=p.filled,
            )
            for p in answer.parts
        ],
    ).model_dump()


def usage_out(answer: Answer) -> dict[str, int]:
    u = answer.usage
    return {
        "prompt_tokens": u.prompt_tokens,
        "completion_tokens": u.completion_tokens,
        "total_tokens": u.prompt_tokens + u.completion_tokens,
    }
