"""OpenAI's Responses API over the answer chain: `/v1/responses` (text or message items as input, `conversation`
or `previous_response_id` for the history, `stream: true` with the Responses event stream (serving/web/events.py),
`store`) and `GET /v1/responses/{id}`. Close enough to OpenAI's shapes that the `openai` SDK's
`client.responses.create(...)` works unchanged. Citations are `file_citation` annotations on the output text (file
path and page), and our richer `citations` and `kb` fields sit beside `output`. The configured actions run through
tool calls (`tool_choice`, serving/actions/flow.py); one that changes something waits for the user's approval item.
The request bodies are in responses_schemas.py; the Conversations API is conversations.py.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from serving.actions import flow as actions
from serving.actions.tools import Outcome
from serving.answer.results import Answer
from serving.llm.protocol import TokenUsage, ToolCall
from serving.shapes import MODEL_ID, asked, file_citations, item_text, message_item, served
from serving.store.conversations import ConversationStore, new_id
from serving.web.errors import ApiError, documented
from serving.web.events import answer_events, replayed
from serving.web.hardening import AnswerStream
from serving.web.responses_schemas import ApprovalResponse, InputItem, ResponsesRequest
from serving.web.schemas import citations_out, kb_out

if TYPE_CHECKING:
    from serving.web.api import Api


def _usage(usage: TokenUsage) -> dict[str, Any]:
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
            return replayed(done) if body.stream else done
        found = asked(inputs)
        if found is None:
            raise ApiError(400, "input must contain a user message with the question")
        question, before = api.chain.validate(found[0]), found[1]
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
        ] + before
        turn = api.turn(request, identity, question, history, body.filters, body.max_output_tokens, body.temperature)
        input_items = [message_item(i.role, i.text()) for i in inputs]
        shell = self._shell(body, conversation_id)
        action = await run_in_threadpool(self._action, turn, body.tool_choice, shell, input_items, conversation_id)
        if action is not None:
            return replayed(action) if body.stream else action
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
            return AnswerStream(answer_events(api.chain, turn, shell, finish, release), release)
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
        usage = TokenUsage()
        outcome, text = actions.confirmed(self.api.assistant, question, call, identity, approval.approve, usage)
        response = self._reported(call, outcome, text, {**shell, "previous_response_id": previous_id}, usage)
        approval_item = {"type": "mcp_approval_response", "approval_request_id": approval.approval_request_id,
                         "approve": approval.approve}  # fmt: skip
        self._keep(identity.user, response, [approval_item], None)
        return response

    @staticmethod
    def _reported(call: ToolCall, outcome: Outcome, text: str, shell: dict[str, Any], usage: TokenUsage) -> dict:
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


def add_response_routes(router: APIRouter, api: ResponsesApi) -> None:
    """The /v1/responses routes (before the router's catch-all)."""
    errors = documented(400, 401, 404, 413, 429, 503)
    stream = {"content": {"text/event-stream": {}}, "description": "the response, or its event stream"}
    router.add_api_route("/responses", api.create_response, methods=["POST"],
                         responses={200: stream, **documented(400, 401, 404, 413, 429, 503)})  # fmt: skip
    router.add_api_route("/responses/{response_id}", api.get_response, methods=["GET"], responses=errors)
