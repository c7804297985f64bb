"""OpenAI's Responses and Conversations APIs over the answer chain: `/v1/responses` (text or message items as
input, `conversation` or `previous_response_id` for the history, `stream: true` with the Responses event stream,
`store`) and `/v1/conversations` (create, get, update, delete; items list, add, get). Close enough to OpenAI's
shapes that the `openai` SDK's `client.responses.create(...)` and `client.conversations.create(...)` work
unchanged. Citations are `file_citation` annotations on the output text (file path and page), and our richer
`citations` and `kb` fields sit beside `output`.

Differences from OpenAI, on purpose: items are listed oldest first unless `order=desc` is asked for (a
conversation reads top to bottom), and tools are not offered yet.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from configs.errors import KBError
from serving.actions import flow as actions
from serving.actions.tools import Outcome
from serving.answer.results import Answer, Delta
from serving.llm.protocol import ToolCall, Usage
from serving.shapes import MODEL_ID, file_citations, item_text, message_item, served
from serving.store.conversations import ConversationStore, new_id
from serving.web.errors import ApiError, documented, kb_error
from serving.web.hardening import AnswerStream
from serving.web.schemas import TEXT, Filters, citations_out, kb_out

if TYPE_CHECKING:
    from serving.web.api import Api


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str = Field(description="input_text or output_text")
    text: str = ""


class InputItem(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["message"] = "message"
    role: Literal["user", "assistant", "system", "developer"]
    content: str | list[ContentPart]

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text for p in self.content)


class ApprovalResponse(BaseModel):
    """The user's answer to an action that changes something (OpenAI's approval item shape)."""

    model_config = ConfigDict(extra="allow")
    type: Literal["mcp_approval_response"]
    approval_request_id: str = Field(min_length=1)
    approve: bool


class ConversationRef(BaseModel):
    id: str = Field(min_length=1)


class ResponsesRequest(BaseModel):
    """OpenAI's response request; fields that do not apply here (tools, reasoning, ...) are accepted and ignored."""

    # Declared fields are typed strictly (no "5" for max_output_tokens); conversation and previous_response_id
    # exclude each other.
    model_config = ConfigDict(
        extra="allow", strict=True, json_schema_extra={"not": {"required": ["conversation", "previous_response_id"]}}
    )
    model: str | None = Field(default=None, description="kb-assistant (GET /v1/models); omit for the default")
    input: (
        Annotated[str, Field(min_length=1, pattern=TEXT)]
        | Annotated[
            list[InputItem | ApprovalResponse],
            Field(
                min_length=1,
                json_schema_extra={
                    "contains": {
                        "required": ["role", "content"],
                        "properties": {"role": {"const": "user"}, "content": {"type": "string", "pattern": TEXT}},
                    }
                },
            ),
        ]
    ) = Field(description="the question, or message items with at least one user message (the last is the question)")
    conversation: str | ConversationRef | None = None
    previous_response_id: str | None = None
    stream: bool = False
    store: bool = True
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_output_tokens: int | None = Field(default=None, ge=1)
    metadata: dict[str, str] | None = None
    filters: Filters | None = None
    tool_choice: Literal["none", "auto", "required"] | dict[str, Any] | None = Field(
        default=None, description='the configured actions: "auto" (default), "none", or {"type": "function", "name"}'
    )


class ConversationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[InputItem] | None = Field(default=None, max_length=20)
    metadata: dict[str, str] | None = None


class ConversationUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    metadata: dict[str, str]


class ItemsCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[InputItem] = Field(min_length=1, max_length=20)


def _event(kind: str, sequence_number: int, data: dict[str, Any]) -> str:
    """One server-sent event of the Responses stream."""
    return f"event: {kind}\ndata: {json.dumps({'type': kind, 'sequence_number': sequence_number, **data})}\n\n"


def _replayed(response: dict[str, Any]) -> StreamingResponse:
    """A finished response (an action's) as the Responses event stream, for a client that asked to stream."""

    def events() -> Iterator[str]:
        seq = iter(range(1_000_000))

        def event(kind: str, **data: Any) -> str:
            return _event(kind, next(seq), data)

        pending = {**response, "status": "in_progress", "output": []}
        yield event("response.created", response=pending)
        yield event("response.in_progress", response=pending)
        for n, item in enumerate(response["output"]):
            yield event("response.output_item.added", output_index=n, item=item)
            yield event("response.output_item.done", output_index=n, item=item)
        final = "response.completed" if response["status"] == "completed" else "response.incomplete"
        yield event(final, response=response)

    return StreamingResponse(events(), media_type="text/event-stream")


def _usage(usage: Usage) -> dict[str, Any]:
    return {
        "input_tokens": usage.prompt_tokens,
        "output_tokens": usage.completion_tokens,
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens_details": {"reasoning_tokens": 0},
    }


class ResponsesApi:
    def __init__(self, api: Api, store: ConversationStore) -> None:
        self.api = api
        self.store = store

    def _user(self, request: Request) -> str:
        return self.api.identity(request).user

    # --- conversations -------------------------------------------------------------------------------
    def create_conversation(self, request: Request, body: ConversationCreate | None = None) -> dict[str, Any]:
        user = self._user(request)
        items = [message_item(i.role, i.text()) for i in (body.items if body and body.items else [])]
        return self.store.create(user, body.metadata if body else None, items)

    def get_conversation(self, conversation_id: str, request: Request) -> dict[str, Any]:
        return self.store.get(self._user(request), conversation_id)

    def update_conversation(self, conversation_id: str, body: ConversationUpdate, request: Request) -> dict:
        return self.store.update(self._user(request), conversation_id, body.metadata)

    def delete_conversation(self, conversation_id: str, request: Request) -> dict[str, Any]:
        self.store.delete(self._user(request), conversation_id)
        return {"id": conversation_id, "object": "conversation.deleted", "deleted": True}

    def list_items(
        self,
        conversation_id: str,
        request: Request,
        limit: int = Query(20, ge=1, le=100),
        order: Literal["asc", "desc"] = "asc",
        after: str | None = None,
    ) -> dict[str, Any]:
        data, more = self.store.items(self._user(request), conversation_id, order, limit, after)
        return {
            "object": "list",
            "data": data,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
            "has_more": more,
        }

    def add_items(self, conversation_id: str, body: ItemsCreate, request: Request) -> dict[str, Any]:
        data = self.store.add_items(
            self._user(request), conversation_id, [message_item(i.role, i.text()) for i in body.items]
        )
        return {"object": "list", "data": data, "first_id": data[0]["id"], "last_id": data[-1]["id"],
                "has_more": False}  # fmt: skip

    def get_item(self, conversation_id: str, item_id: str, request: Request) -> dict[str, Any]:
        return self.store.item(self._user(request), conversation_id, item_id)

    def get_response(self, response_id: str, request: Request) -> dict[str, Any]:
        return self.store.response(self._user(request), response_id)

    # --- responses -------------------------------------------------------------------------------------
    async def create_response(self, body: ResponsesRequest, request: Request) -> Any:
        api = self.api
        identity = api.identity(request)
        if not served(body.model):
            raise ApiError(404, f"model {body.model!r} is not served here; use {MODEL_ID!r}", "invalid_request_error",
                           "model_not_found")  # fmt: skip
        if body.conversation is not None and body.previous_response_id:
            raise ApiError(400, "use either conversation or previous_response_id, not both")
        raw = [InputItem(role="user", content=body.input)] if isinstance(body.input, str) else body.input
        approvals = [i for i in raw if isinstance(i, ApprovalResponse)]
        inputs = [i for i in raw if isinstance(i, InputItem)]
        conversation_id = (
            body.conversation if isinstance(body.conversation, str) or body.conversation is None
            else body.conversation.id
        )  # fmt: skip
        if approvals:  # the user's answer to an action a stored response asked them to confirm
            if not body.previous_response_id:
                raise ApiError(400, "an approval answers a stored response: send previous_response_id with it")
            shell = self._shell(body, None)
            done = await run_in_threadpool(self._approved, identity, body.previous_response_id, approvals[0], shell)
            return _replayed(done) if body.stream else done
        users = [i for i, item in enumerate(inputs) if item.role == "user" and item.text().strip()]
        if not users:
            raise ApiError(400, "input must contain a user message with the question")
        question = api.chain.validate(inputs[users[-1]].text())
        if conversation_id:
            earlier, _ = self.store.items(identity.user, conversation_id, "asc", 10_000)
        elif body.previous_response_id:
            earlier = self.store.thread(identity.user, body.previous_response_id)
        else:
            earlier = []
        history = [
            {"role": str(i["role"]), "content": item_text(i)}
            for i in earlier
            if i.get("type", "message") == "message" and i.get("role") in ("user", "assistant")
        ] + [{"role": i.role, "content": i.text()} for i in inputs[: users[-1]] if i.role in ("user", "assistant")]
        turn = api.turn(request, identity, question, history, body.filters, body.max_output_tokens, body.temperature)
        input_items = [message_item(i.role, i.text()) for i in inputs]
        shell = self._shell(body, conversation_id)
        action = await run_in_threadpool(self._action, turn, body.tool_choice, shell, input_items, conversation_id)
        if action is not None:
            return _replayed(action) if body.stream else action
        release = api.start_answer(identity, request)

        def finish(answer: Answer, message_id: str) -> dict[str, Any]:
            audit_id = api.assistant.recorder.answer(identity, answer, turn.filters_in, history, conversation_id or "")
            message = message_item("assistant", answer.text, file_citations(answer))
            message["id"] = message_id
            response = {
                **shell,
                "status": "completed",
                "output": [message],
                "usage": _usage(answer.usage),
                "citations": citations_out(answer),
                "kb": kb_out(answer, audit_id),
            }
            if conversation_id:
                self.store.add_items(identity.user, conversation_id, [*input_items, message])
            if body.store:
                self.store.save_response(identity.user, response, input_items)
            return response

        if body.stream:
            return AnswerStream(self._events(turn, shell, finish, release), release)
        try:
            answer = await run_in_threadpool(
                api.chain.answer, turn.question, turn.history, turn.filters, turn.generation, turn.scope
            )
            return await run_in_threadpool(finish, answer, new_id("msg"))
        finally:
            release()

    def _shell(self, body: ResponsesRequest, conversation_id: str | None) -> dict[str, Any]:
        """The response object's fields that do not depend on the answer."""
        return {
            "id": new_id("resp"),
            "object": "response",
            "created_at": int(time.time()),
            "model": MODEL_ID,
            "conversation": {"id": conversation_id} if conversation_id else None,
            "previous_response_id": body.previous_response_id,
            "store": body.store,
            "metadata": body.metadata or {},
            "temperature": body.temperature,
            "max_output_tokens": body.max_output_tokens,
            "parallel_tool_calls": False,
            "tool_choice": body.tool_choice or "auto",
            "tools": [],
            "top_p": 1.0,
            "text": {"format": {"type": "text"}},
            "truncation": "disabled",
            "error": None,
            "incomplete_details": None,
            "instructions": None,
        }

    # --- actions through tool calls ----------------------------------------------------------------------
    def _action(
        self,
        turn: Any,
        choice: str | dict[str, Any] | None,
        shell: dict[str, Any],
        input_items: list[dict[str, Any]],
        conversation_id: str | None,
    ) -> dict[str, Any] | None:
        """An action the model chose (serving/actions/flow.py): run, or waiting for the user's confirmation; None when
        the question goes on to the verified answer."""
        assistant = self.api.assistant
        try:
            decision = actions.decide(assistant, turn.question, turn.history, turn.identity, turn.scope, choice)
        except actions.UnknownTool as exc:
            raise ApiError(400, str(exc)) from exc
        if decision is None:
            return None
        call, outcome = decision.call, decision.outcome
        if outcome.status == "needs_confirmation":
            request_item = {"type": "mcp_approval_request", "id": new_id("apr"), "server_label": "kb-actions",
                            "name": call.name, "arguments": call.arguments, "kb_question": turn.question}  # fmt: skip
            response = {**shell, "status": "incomplete", "incomplete_details": {"reason": "confirmation_required"},
                        "output": [request_item], "usage": _usage(decision.usage),
                        "kb": {"mode": "action", "tool": call.name, "status": outcome.status,
                               "notice": outcome.output}}  # fmt: skip
        else:
            response = self._reported(call, outcome, decision.text, shell, decision.usage)
        self._keep(turn.identity.user, response, input_items, conversation_id)
        return response

    def _approved(
        self, identity: Any, previous_id: str, approval: ApprovalResponse, shell: dict[str, Any]
    ) -> dict[str, Any]:
        """Runs (or, declined, records the refusal of) the action a stored response asked to confirm."""
        stored = self.store.response(identity.user, previous_id)
        pending = next(
            (i for i in stored.get("output", []) if i.get("type") == "mcp_approval_request"
             and i.get("id") == approval.approval_request_id),
            None,
        )  # fmt: skip
        if pending is None:
            raise ApiError(404, f"no action {approval.approval_request_id!r} waits for confirmation there", "not_found")
        # The stored request is redacted (privacy.redact); the action runs with what the user gave, held apart.
        if self.store.followed(identity.user, previous_id):
            raise ApiError(400, "that action was already confirmed or declined")
        held = self.store.take_held(identity.user, previous_id, approval.approval_request_id)
        if held is None:
            raise ApiError(400, "that action was already confirmed or declined")
        call = ToolCall(new_id("call"), str(pending["name"]), held["arguments"])
        question = held["kb_question"]
        usage = Usage()
        outcome, text = actions.confirmed(self.api.assistant, question, call, identity, approval.approve, usage)
        response = self._reported(call, outcome, text, {**shell, "previous_response_id": previous_id}, usage)
        approval_item = {"type": "mcp_approval_response", "approval_request_id": approval.approval_request_id,
                         "approve": approval.approve}  # fmt: skip
        self._keep(identity.user, response, [approval_item], None)
        return response

    @staticmethod
    def _reported(call: ToolCall, outcome: Outcome, text: str, shell: dict[str, Any], usage: Usage) -> dict:
        """The response after an action: the call, its result, and the message about it."""
        call_item = {"type": "function_call", "id": new_id("fc"), "call_id": call.id, "name": call.name,
                     "arguments": call.arguments, "status": "completed"}  # fmt: skip
        output_item = {"type": "function_call_output", "id": new_id("fco"), "call_id": call.id,
                       "output": outcome.output, "status": "completed"}  # fmt: skip
        return {
            **shell,
            "status": "completed",
            "output": [call_item, output_item, message_item("assistant", text)],
            "usage": _usage(usage),
            "kb": {"mode": "action", "tool": call.name, "status": outcome.status,
                   "notice": "This reports what an action did; it is not an answer from the documents."},
        }  # fmt: skip

    def _keep(
        self, user: str, response: dict[str, Any], input_items: list[dict[str, Any]], conversation_id: str | None
    ) -> None:
        if conversation_id:
            self.store.add_items(user, conversation_id, [*input_items, *[
                i for i in response["output"] if i.get("type") == "message"]])  # fmt: skip
        if response.get("store", True):
            self.store.save_response(user, response, input_items)

    def _events(
        self,
        turn: Any,
        shell: dict[str, Any],
        finish: Callable[[Answer, str], dict[str, Any]],
        release: Callable[[], None],
    ) -> Iterator[str]:
        """The Responses event stream: created, in_progress, the message and its text deltas, completed."""
        seq = iter(range(1_000_000))
        message_id = new_id("msg")

        def event(kind: str, **data: Any) -> str:
            return _event(kind, next(seq), data)

        pending = {**shell, "status": "in_progress", "output": [], "usage": None}
        where = {"item_id": message_id, "output_index": 0, "content_index": 0}
        try:
            yield event("response.created", response=pending)
            yield event("response.in_progress", response=pending)
            item = {"type": "message", "id": message_id, "status": "in_progress", "role": "assistant", "content": []}
            yield event("response.output_item.added", output_index=0, item=item)
            part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
            yield event("response.content_part.added", **where, part=part)
            answer = None
            for ev in self.api.chain.stream(turn.question, turn.history, turn.filters, turn.generation, turn.scope):
                if isinstance(ev, Delta) and ev.text:
                    yield event("response.output_text.delta", **where, delta=ev.text, logprobs=[])
                elif isinstance(ev, Answer):
                    answer = ev
            assert answer is not None
            response = finish(answer, message_id)
            done = response["output"][0]
            yield event("response.output_text.done", **where, text=answer.text, logprobs=[])
            yield event("response.content_part.done", **where, part=done["content"][0])
            yield event("response.output_item.done", output_index=0, item=done)
            yield event("response.completed", response=response)
        except (KBError, ApiError) as exc:
            status, message = (kb_error(exc)[0], str(exc)) if isinstance(exc, KBError) else (exc.status, exc.message)
            failed = {**pending, "status": "failed", "error": {"code": str(status), "message": message}}
            yield event("response.failed", response=failed)
        finally:
            release()


def add_routes(router: APIRouter, api: ResponsesApi) -> None:
    """The /v1/responses and /v1/conversations routes (before the router's catch-all)."""
    errors = documented(400, 401, 404, 413, 429)
    stream = {"content": {"text/event-stream": {}}, "description": "the response, or its event stream"}
    router.add_api_route("/responses", api.create_response, methods=["POST"],
                         responses={200: stream, **documented(400, 401, 404, 413, 429, 503)})  # fmt: skip
    router.add_api_route("/responses/{response_id}", api.get_response, methods=["GET"], responses=errors)
    router.add_api_route("/conversations", api.create_conversation, methods=["POST"], responses=errors)
    router.add_api_route("/conversations/{conversation_id}", api.get_conversation, methods=["GET"], responses=errors)
    router.add_api_route(
        "/conversations/{conversation_id}", api.update_conversation, methods=["POST"], responses=errors
    )
    router.add_api_route(
        "/conversations/{conversation_id}", api.delete_conversation, methods=["DELETE"], responses=errors
    )
    router.add_api_route("/conversations/{conversation_id}/items", api.list_items, methods=["GET"], responses=errors)
    router.add_api_route("/conversations/{conversation_id}/items", api.add_items, methods=["POST"], responses=errors)
    router.add_api_route(
        "/conversations/{conversation_id}/items/{item_id}", api.get_item, methods=["GET"], responses=errors
    )
