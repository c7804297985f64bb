"""The Responses API's server-sent events: the stream of an answer as the chain writes it (created, in_progress,
the message and its text deltas, completed or failed), and a finished response (an action's) replayed as events."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from fastapi.responses import StreamingResponse

from configs.errors import KBError
from serving.answer.results import Answer, Delta
from serving.store.conversations import new_id
from serving.web.errors import ApiError, kb_error


def event_text(kind: str, sequence_number: int, data: dict[str, Any]) -> str:
    """One server-sent event of the Responses stream."""
    return f"event: {kind}\ndata: {json.dumps({'type': kind, 'sequence_number': sequence_number, **data})}\n\n"


def replayed(response: dict[str, Any]) -> StreamingResponse:
    """A finished response (an action's) as the Responses event stream, for a client that asked to stream."""

    def events() -> Iterator[str]:
        seq = iter(range(1_000_000))

        def event(kind: str, **data: Any) -> str:
            return event_text(kind, next(seq), data)

        pending = {**response, "status": "in_progress", "output": []}
        yield event("response.created", response=pending)
        yield event("response.in_progress", response=pending)
        for n, item in enumerate(response["output"]):
            yield event("response.output_item.added", output_index=n, item=item)
            yield event("response.output_item.done", output_index=n, item=item)
        final = "response.completed" if response["status"] == "completed" else "response.incomplete"
        yield event(final, response=response)

    return StreamingResponse(events(), media_type="text/event-stream")


def answer_events(
    chain: Any,
    turn: Any,
    shell: dict[str, Any],
    finish: Callable[[Answer, str], dict[str, Any]],
    release: Callable[[], None],
) -> Iterator[str]:
    """The Responses event stream: created, in_progress, the message and its text deltas, completed."""
    seq = iter(range(1_000_000))
    message_id = new_id("msg")

    def event(kind: str, **data: Any) -> str:
        return event_text(kind, next(seq), data)

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
        for ev in chain.stream(turn.question, turn.history, turn.filters, turn.generation, turn.scope):
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
