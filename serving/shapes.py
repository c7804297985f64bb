"""OpenAI-shaped objects that the API and the page both build: the model id this server answers as, message
items as conversations store them, and file citations at their markers' positions. Nothing here knows HTTP."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from serving.answer.markers import marker_numbers
from serving.answer.results import Answer
from serving.store.conversations import new_id

MODEL_ID = "kb-assistant"  # the one model /v1/models lists; a request naming another is refused


def served(model: str | None) -> bool:
    """Whether a request's `model` names this server's model (or none)."""
    return model in (None, MODEL_ID)


def message_item(role: str, text: str, annotations: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A stored or returned message item in OpenAI's shape."""
    if role == "assistant":
        content = [{"type": "output_text", "text": text, "annotations": annotations or [], "logprobs": []}]
    else:
        content = [{"type": "input_text", "text": text}]
    return {"type": "message", "id": new_id("msg"), "status": "completed", "role": role, "content": content}


def item_text(item: dict[str, Any]) -> str:
    content = item.get("content", "")
    if isinstance(content, str):
        return content
    return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))


def file_citations(answer: Answer) -> list[dict[str, Any]]:
    """A file_citation for each [n] marker, at the marker's position in the text; `withheld` says the source
    contains text addressed to the assistant that the model was not given."""
    out: list[dict[str, Any]] = []
    text = answer.text
    for n in marker_numbers(text):
        if not 1 <= n <= len(answer.citations):
            continue
        c = answer.citations[n - 1]
        marker = f"[{n}]"
        start = 0
        while (pos := text.find(marker, start)) != -1:
            out.append({"type": "file_citation", "file_id": c.source, "filename": c.relpath, "index": pos,
                        "page": c.page, "source_index": n, "withheld": c.withheld})  # fmt: skip
            start = pos + len(marker)
        text = text.replace(marker, " " * len(marker))  # each marker once
    return sorted(out, key=lambda a: a["index"])


class Said(Protocol):
    """A chat message or Responses input item: who said it and its text."""

    @property
    def role(self) -> str: ...

    def text(self) -> str: ...


def asked(messages: Sequence[Said]) -> tuple[str, list[dict[str, str]]] | None:
    """The question and the conversation before it: the question is the last user message that says something,
    the user and assistant messages before it are the history. None when no user message says anything."""
    users = [i for i, m in enumerate(messages) if m.role == "user" and m.text().strip()]
    if not users:
        return None
    at = users[-1]
    history = [{"role": m.role, "content": m.text()} for m in messages[:at] if m.role in ("user", "assistant")]
    return messages[at].text(), history
