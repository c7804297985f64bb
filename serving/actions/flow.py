"""Deciding on an action and reporting it, shared by the API (/v1/responses) and the page.

`decide` gives the model one turn with the tools offered (only when actions are configured and the model supports
tools); a call to an action goes through the toolbox, which runs it, or answers that it needs the user's
confirmation. `report` words the outcome: the model is told the tool's result, and its wording is shown only if
the verifier finds it supported by that result; otherwise the result is reported as it came.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from configs.errors import ModelUnavailable
from configs.settings import Settings
from serving.access.identity import Access
from serving.actions.tools import SEARCH, Outcome, Toolbox
from serving.answer.chain import AnswerChain
from serving.llm.protocol import TokenUsage, ToolCall, complete, supports_tools, tool_round
from serving.observability.recorder import Recorder


class ActionServices(Protocol):
    """What the action flow uses of the object graph the composition root builds (serving.assistant)."""

    settings: Settings
    chain: AnswerChain
    access: Access
    recorder: Recorder
    toolbox: Toolbox


PROMPT = (
    "You are the team's assistant. When the user asks you to do something one of the tools does (open a ticket, "
    "look up a status), call that tool with the arguments the user gave. To answer a question from the team's "
    "documents, call search_documents. After a tool ran, say in one or two sentences what it did, using only its "
    "result."
)


class UnknownTool(ValueError):
    """tool_choice names a tool that is not configured."""


@dataclass
class Decision:
    call: ToolCall
    outcome: Outcome
    messages: list[dict[str, Any]]
    usage: TokenUsage
    text: str = ""  # what the reader is told (report); "" while the call waits for the user's confirmation


def available(assistant: ActionServices) -> bool:
    """Actions are configured and enabled, and the model can be offered tools."""
    toolbox, model = assistant.toolbox, assistant.chain.chat_model
    actions = [t for t in toolbox.tools.values() if t.name != SEARCH]
    return bool(assistant.settings.tools.enabled and actions and supports_tools(model))


def decide(
    assistant: ActionServices,
    question: str,
    history: list[dict[str, str]],
    identity: Any,
    scope: Any,
    choice: str | dict[str, Any] | None = None,
) -> Decision | None:
    """None: no action (the question goes to the verified answer). Otherwise the call and what became of it."""
    if choice == "none" or not available(assistant):
        return None
    toolbox = assistant.toolbox
    if isinstance(choice, dict):  # Responses shape {"type": "function", "name": X} -> chat shape
        name = str(choice.get("name") or (choice.get("function") or {}).get("name") or "")
        if name not in toolbox.tools:
            known = ", ".join(toolbox.tools)
            raise UnknownTool(f"tool_choice names {name!r}, which is not configured (tools: {known})")
        wanted: str | dict[str, Any] = {"type": "function", "function": {"name": name}}
    else:
        wanted = choice or "auto"
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": PROMPT},
        *history,
        {"role": "user", "content": question},
    ]
    usage = TokenUsage()
    reply = tool_round(assistant.chain.chat_model, messages, toolbox.definitions(), wanted, 256, usage)
    calls = [c for c in (reply.calls if reply else ()) if c.name != SEARCH]
    if not calls:
        return None
    call = calls[0]  # one action a turn: each may need its own confirmation
    outcome = toolbox.call(call.name, call.arguments, identity, scope, confirmed=False)
    decision = Decision(call, outcome, messages, usage)
    if decision.outcome.status != "needs_confirmation":
        decision.text = report(assistant, question, call, decision.outcome, messages, usage)
    return decision


def confirm(assistant: ActionServices, call: ToolCall, identity: Any, approve: bool) -> Outcome:
    """Runs a confirmed action, or records that the user declined it."""
    if approve:
        scope = assistant.access.read_scope(identity)
        return assistant.toolbox.call(call.name, call.arguments, identity, scope, confirmed=True)
    assistant.recorder.action(
        "tool.call", identity, {"tool": call.name, "status": "declined", "arguments": call.arguments[:2000]}
    )
    return Outcome("refused", f"The user declined {call.name}; nothing was done.")


def confirmed(
    assistant: ActionServices, question: str, call: ToolCall, identity: Any, approve: bool, usage: TokenUsage
) -> tuple[Outcome, str]:
    """A held action the user confirmed (it runs) or declined (recorded), and what the reader is told of it."""
    outcome = confirm(assistant, call, identity, approve)
    messages = [{"role": "system", "content": PROMPT}, {"role": "user", "content": question}]
    return outcome, report(assistant, question, call, outcome, messages, usage)


def plain(name: str, outcome: Outcome) -> str:
    if outcome.status == "done":
        return f"{name} ran. Its result: {outcome.output[:1000]}"
    return outcome.output


def report(
    assistant: ActionServices,
    question: str,
    call: ToolCall,
    outcome: Outcome,
    messages: list[dict[str, Any]],
    usage: TokenUsage,
) -> str:
    """What the reader is told about an action that ran, failed or was declined."""
    from serving.answer.verify.verifier import verify_answer

    text = plain(call.name, outcome)
    model = assistant.chain.chat_model
    if outcome.status not in ("done", "error") or model is None:  # it is told results, errors and timeouts
        return text
    told = [
        *messages,
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}]},
        {"role": "tool", "tool_call_id": call.id, "content": outcome.output},
    ]  # fmt: skip
    try:
        worded = complete(model, told, 160, 0.0, usage).strip()  # type: ignore[arg-type]
    except ModelUnavailable:
        return text
    if worded and verify_answer(assistant.chain.verifier, question, worded, [outcome.output]).supported:
        return worded
    return text
