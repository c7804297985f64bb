"""What each event of the page does: the visitor's status and filters, the conversations list, asking, confirming an
action, feedback and upload. PageHandlers holds the services it uses (PageServices); serving.ui.page wires its
methods to the components. A method's name and its parameters' names are the page's API (/gradio_api/call/respond,
gradio_client's keyword arguments): renaming one changes what clients call."""

# No `from __future__ import annotations` here: Gradio reads the handlers' type hints (gr.Request, gr.LikeData) at
# runtime to know which parameters are the request and the event's data.
import contextlib
import html
import re
from collections.abc import Callable, Iterator
from typing import Any

import gradio as gr
from gradio import utils as gradio_utils

from configs.errors import KBError, NotFound
from retrieval.filters import Filter, Scope, check_known
from serving.access.identity import Identity
from serving.access.paths import PathRefused, uploaded_file
from serving.access.quotas import OverLimit
from serving.actions import flow as actions
from serving.actions.flow import Decision
from serving.answer.results import Answer, Delta
from serving.llm.protocol import TokenUsage, ToolCall
from serving.shapes import file_citations, item_text, message_item
from serving.ui.render import answer_markdown, sources_html
from serving.ui.services import PageServices, limit_key, who

Outputs = tuple[Any, ...]


class PageHandlers:
    """The page's events, each acting for the request's identity within what it may read."""

    def __init__(self, services: PageServices, upload_folder: Callable[[], str] = gradio_utils.get_upload_folder):
        self.services = services
        self.store = services.conversations
        self.upload_folder = upload_folder  # where Gradio's upload route puts files: the only files ingested

    # --- the visitor and the conversations list ---------------------------------------------------------------
    def choices(self, identity: Identity) -> list[tuple[str, str]]:
        return [(str(c["metadata"].get("title") or "untitled"), c["id"]) for c in self.store.recent(identity.user)]

    def opened(self, identity: Identity, conv_id: str | None) -> Outputs:
        """(chat, kept answers, sources, current id, list) for a conversation of this user, or a fresh one."""
        conv_id = _conversation_id(conv_id)
        listed = self.choices(identity)
        try:
            items, _ = self.store.items(identity.user, conv_id, "asc", 1000) if conv_id else ([], False)
        except NotFound:
            items, conv_id = [], None  # deleted elsewhere, or another user's id in this browser
        history = [
            {"role": i["role"], "content": i.get("kb_markdown") or item_text(i)}
            for i in items
            if i.get("role") in ("user", "assistant")
        ]
        last = next((i for i in reversed(items) if i.get("role") == "assistant"), None)
        shown = last.get("kb_sources_html", sources_html(None)) if last else sources_html(None)
        # Answers from an earlier visit keep their place (feedback on them is not recorded again).
        kept = [None] * sum(1 for i in items if i.get("role") == "assistant")
        return history, kept, shown, conv_id, gr.update(choices=listed, value=conv_id)

    def visitor(self, conv_id: str | None, request: gr.Request) -> Outputs:
        identity = who(request)
        f = self.services.facets(identity)
        status = self.services.status(identity)
        if identity.via != "local":
            status += " · [sign out](/logout)"
        return (
            status,
            gr.update(choices=f["collection"], value=[]),
            gr.update(choices=f["file_type"], value=[]),
            gr.update(choices=f["tag"], value=[]),
            *self.opened(identity, conv_id),
        )

    def on_pick(self, conv_id: str | None, request: gr.Request) -> Outputs:
        return self.opened(who(request), conv_id)

    def on_new(self, request: gr.Request) -> Outputs:
        return self.opened(who(request), None)

    def on_rename(self, name: str, conv_id: str | None, request: gr.Request) -> tuple[Any, str]:
        identity, conv_id, name = who(request), _conversation_id(conv_id), name or ""
        if not conv_id or not name.strip():
            raise gr.Error("open a conversation and type its new name first")
        try:  # redacted, then cut
            self.store.update(identity.user, conv_id, {"title": self.store.clean(name.strip())[:120]})
        except NotFound as exc:
            raise gr.Error("that conversation no longer exists") from exc
        return gr.update(choices=self.choices(identity), value=conv_id), ""

    def on_delete(self, conv_id: str | None, request: gr.Request) -> Outputs:
        identity, conv_id = who(request), _conversation_id(conv_id)
        if conv_id:
            with contextlib.suppress(NotFound):  # already gone
                self.store.delete(identity.user, conv_id)
        return self.opened(identity, None)

    def remember(
        self, identity: Identity, conv_id: str | None, message: str, answer: Answer | str, markdown: str, shown: str
    ) -> tuple[str | None, Any]:
        """Stores the turn (an answer, or the report of an action) in the user's conversation, a new one for
        the first question; the page keeps working if the store cannot be written, and says so. The store
        redacts personal data (privacy.redact) in the question, the answer and its markdown; the sources' HTML is
        the documents' own passages, kept as the index holds them."""
        conv_id = _conversation_id(conv_id)
        try:
            if conv_id is None:
                # Redacted before it is cut: an address cut in half is no longer recognised as one.
                conv_id = str(self.store.create(identity.user, {"title": self.store.clean(message.strip())[:80]})["id"])
            if isinstance(answer, str):
                reply = message_item("assistant", answer)
            else:
                reply = message_item("assistant", answer.text, file_citations(answer))
            self.store.add_items(
                identity.user,
                conv_id,
                [message_item("user", message), {**reply, "kb_markdown": markdown, "kb_sources_html": shown}],
            )
        except (KBError, NotFound) as exc:
            gr.Warning(f"the conversation could not be saved ({exc})")
            return conv_id, gr.update()
        return conv_id, gr.update(choices=self.choices(identity), value=conv_id)

    # --- asking -----------------------------------------------------------------------------------------------
    def respond(
        self,
        message: str,
        history: list[dict[str, Any]],
        kept: list[Any],
        conv_id: str | None,
        cols: list[str],
        types: list[str],
        tag_list: list[str],
        since: str,
        until: str,
        request: gr.Request,
    ) -> Iterator[Outputs]:
        # Streams the answer (or runs the action the model chose, or holds it for confirmation) into the chat;
        # outputs: chat, kept answers, sources, question, current id, list, pending action, confirm row, its note.
        # (No docstring on a handler: Gradio would publish it as the endpoint's description.)
        identity = who(request)
        message, since, until = message or "", since or "", until or ""  # a client may send null for a text box
        filters = {
            "collections": cols or None,
            "file_types": types or None,
            "tags": tag_list or None,
            "modified_after": since.strip() or None,
            "modified_before": until.strip() or None,
        }
        flt, release = self._admit(identity, request, message, filters)
        scope = self.services.access.read_scope(identity)
        past = [{"role": m["role"], "content": _text(m["content"])} for m in history]
        history = [*history, {"role": "user", "content": message}, {"role": "assistant", "content": ""}]
        try:
            decision = actions.decide(self.services, message, past, identity, scope)
        except KBError as exc:
            release()
            raise gr.Error(str(exc)) from exc
        if decision is not None:  # the model chose an action: run it, or ask before it changes something
            release()
            yield self._action_turn(identity, decision, message, history, kept, conv_id)
            return
        try:
            yield from self._answer_turns(identity, message, past, (flt, filters, scope), history, kept, conv_id)
        finally:
            release()

    def _admit(
        self, identity: Identity, request: gr.Request | None, message: str, filters: dict[str, Any]
    ) -> tuple[Filter, Callable[[], None]]:
        """The parsed filter and the answer slot's release, once the question, the filter and the rate limit pass."""
        services, key = self.services, limit_key(identity, request)
        try:
            flt = Filter.parse(filters)
            services.chain.validate(message)
            check_known(flt, services.facets(identity))
            services.quotas.request(key)
            return flt, services.quotas.start_answer(key)
        except (KBError, OverLimit) as exc:
            raise gr.Error(str(exc)) from exc

    def _action_turn(
        self,
        identity: Identity,
        decision: Decision,
        message: str,
        history: list[dict[str, Any]],
        kept: list[Any],
        conv_id: str | None,
    ) -> Outputs:
        call, outcome = decision.call, decision.outcome
        if outcome.status == "needs_confirmation":
            note = (f"**{html.escape(call.name)}** would change something, with "
                    f"`{html.escape(call.arguments)}`. Run it?")  # fmt: skip
            history[-1] = {"role": "assistant", "content": note}
            waiting = (call.name, call.arguments, message)
            return history, kept, gr.update(), "", conv_id, gr.update(), waiting, gr.update(visible=True), note
        text = decision.text
        history[-1] = {"role": "assistant", "content": text}
        conv_id, listed = self.remember(identity, conv_id, message, text, text, sources_html(None))
        return history, [*kept, None], gr.update(), "", conv_id, listed, None, gr.update(visible=False), ""

    def _answer_turns(
        self,
        identity: Identity,
        message: str,
        past: list[dict[str, str]],
        asked: tuple[Filter, dict[str, Any], Scope],
        history: list[dict[str, Any]],
        kept: list[Any],
        conv_id: str | None,
    ) -> Iterator[Outputs]:
        """The chain's answer as it streams, then the verified answer with its sources, stored in the conversation."""
        flt, filters, scope = asked
        streamed = ""
        try:
            for event in self.services.chain.stream(message, past, flt, None, scope):
                if isinstance(event, Delta):
                    streamed += event.text
                    history[-1] = {"role": "assistant", "content": streamed}
                    yield history, kept, gr.update(), "", gr.update(), gr.update(), None, gr.update(), gr.update()
                else:
                    used = {k: v for k, v in filters.items() if v}
                    seq = self.services.recorder.answer(identity, event, used, past, conv_id or "")
                    markdown, shown = answer_markdown(event), sources_html(event)
                    history[-1] = {"role": "assistant", "content": markdown}
                    conv_id, listed = self.remember(identity, conv_id, message, event, markdown, shown)
                    hidden = gr.update(visible=False)
                    yield history, [*kept, (event, seq)], shown, "", conv_id, listed, None, hidden, ""
        except KBError as exc:
            raise gr.Error(str(exc)) from exc

    def decided(
        self,
        approve: bool,
        waiting: Any,
        history: list[dict[str, Any]],
        kept: list[Any],
        conv_id: str | None,
        request: gr.Request | None,
    ) -> Outputs:
        """Runs the action waiting for confirmation, or records that the user declined it, and words what became of
        it in place of the question it asked; outputs: chat, kept answers, pending, confirm row, current id, list."""
        identity = who(request)
        if not waiting:
            raise gr.Error("no action is waiting for confirmation")
        name, arguments, asked = waiting
        call = ToolCall(f"call_{len(history)}", name, arguments)
        _, text = actions.confirmed(self.services, asked, call, identity, approve, TokenUsage())
        history = [*history[:-1], {"role": "assistant", "content": text}]  # the confirmation turn
        conv_id, listed = self.remember(identity, conv_id, asked, text, text, sources_html(None))
        return history, [*kept, None], None, gr.update(visible=False), conv_id, listed

    def on_decide(self, approve: bool) -> Callable[..., Outputs]:
        """The confirm (approve) or cancel button's handler; both are named `decided` in the page's API."""

        def decided(
            waiting: Any, history: list[dict[str, Any]], kept: list[Any], conv_id: str | None, request: gr.Request
        ) -> Outputs:
            return self.decided(approve, waiting, history, kept, conv_id, request)

        return decided

    # --- feedback and upload ----------------------------------------------------------------------------------
    def on_like(self, data: gr.LikeData, kept: list[Any], request: gr.Request) -> None:
        identity = who(request)
        position = data.index[0] if isinstance(data.index, list | tuple) else data.index
        item = kept[int(position) // 2] if kept and int(position) // 2 < len(kept) else None
        if item is not None:
            answer, seq = item
            self.services.recorder.feedback_given(identity, answer, 1 if data.liked else -1, "", seq)
            gr.Info("Thanks for the feedback")

    def on_comment(self, text: str, kept: list[Any], request: gr.Request) -> str:
        identity, text = who(request), text or ""
        if not kept or kept[-1] is None:
            raise gr.Error("ask a question first; the comment is stored with the last answer of this visit")
        answer, seq = kept[-1]
        self.services.recorder.feedback_given(identity, answer, 0, text, seq)
        gr.Info("Comment saved")
        return ""

    def on_upload(
        self, paths: list[Any] | None, collection: str, request: gr.Request
    ) -> tuple[str, str, Any, Any, Any]:
        # Ingests the files this page's upload stored; outputs: upload status, status line, the three filters.
        identity = who(request)
        if not paths:
            raise gr.Error("choose one or more files first")
        name = re.sub(r"[^A-Za-z0-9_-]+", "-", str(collection or "").strip()) or "uploads"
        try:
            # Only files this page's upload put in Gradio's upload folder: a client can post any path here.
            if not isinstance(paths, list):
                raise PathRefused("send the uploaded files as a list; choose them in the page's upload box")
            folder = self.upload_folder()
            chosen = [uploaded_file(_upload_path(p), folder) for p in paths]
            message = self.services.ingest_upload(chosen, name, identity, limit_key(identity, request))
        except (KBError, OverLimit) as exc:  # no permission, over the rate limit, or another ingest is writing
            raise gr.Error(str(exc)) from exc
        except OSError as exc:
            raise gr.Error(f"could not store the upload ({exc.strerror or exc}); check serving.uploads_dir") from exc
        f = self.services.facets(identity)
        return (
            message,
            self.services.status(identity),
            gr.update(choices=f["collection"]),
            gr.update(choices=f["file_type"]),
            gr.update(choices=f["tag"]),
        )


def _upload_path(item: Any) -> str:
    """The server path of one uploaded file as Gradio hands it over (a path string or a FileData-like object)."""
    value = item if isinstance(item, str) else getattr(item, "path", None) or getattr(item, "name", None)
    if not isinstance(value, str) or not value or "\x00" in value:
        raise PathRefused("an upload names no file; choose the files in the page's upload box")
    return value


def _text(content: Any) -> str:
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) if isinstance(p, dict) else str(p) for p in content)
    return str(content or "")


def _conversation_id(value: Any) -> str | None:
    """The conversation id the browser kept (gr.BrowserState: whatever the client sends), or None if it is not one."""
    return value if isinstance(value, str) and value else None
