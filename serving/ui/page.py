"""The Gradio Q&A page: streaming answers, sources with highlighted passages, filters, feedback, upload."""

# No `from __future__ import annotations` here: Gradio reads the event-data type hints (gr.LikeData) at runtime.
import contextlib
import html
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

from configs.errors import KBError, NotFound
from retrieval.filters import Filter, check_known
from retrieval.text import content_stems, sentence_spans
from serving.access.auth import Authenticator, AuthError
from serving.access.identity import Identity
from serving.access.paths import PathRefused, uploaded_file
from serving.access.quotas import OverLimit, Quotas
from serving.actions import flow as actions
from serving.actions.flow import ActionServices
from serving.answer.chain import Answer, Delta
from serving.answer.citations import claims
from serving.answer.sources import Citation
from serving.llm.protocol import ToolCall, Usage
from serving.shapes import file_citations, item_text, message_item
from serving.store.conversations import ConversationStore


class PageServices(ActionServices, Protocol):
    """What the page uses of the object graph the composition root builds (serving.assistant)."""

    authenticator: Authenticator
    quotas: Quotas
    conversations: ConversationStore

    def facets(self, identity: Identity) -> dict[str, list[str]]: ...

    def status(self, identity: Identity) -> str: ...

    def ingest_upload(self, paths: list[Path], collection: str, identity: Identity) -> str: ...


logger = logging.getLogger(__name__)


def file_link(c: Citation) -> str:
    link = f"/v1/files?source={quote(c.source)}"
    return link + (f"#page={c.page}" if c.page else "")


def highlight(c: Citation, answer_text: str) -> str:
    """The passage as HTML with the sentences the answer draws on for this source marked."""
    targets = [content_stems(sentence) for sentence, numbers in claims(answer_text) if c.index in numbers]
    out, pos = [], 0
    for start, end in sentence_spans(c.text):
        sentence = c.text[start:end]
        words = content_stems(sentence)
        best = max((len(words & t) / max(1, min(len(t), len(words))) for t in targets), default=0.0)
        out.append(html.escape(c.text[pos:start]))
        text = html.escape(sentence)
        out.append(f"<mark>{text}</mark>" if best >= 0.5 and len(words) >= 2 else text)
        pos = end
    out.append(html.escape(c.text[pos:]))
    return "".join(out)


def sources_html(answer: Answer | None) -> str:
    if answer is None:
        return "<p class='kb-muted'>Sources of the latest answer appear here.</p>"
    if not answer.citations:
        return "<p class='kb-muted'>No source in the index was relevant to this question.</p>"
    parts = []
    for c in answer.citations:
        where = html.escape(c.where)
        cited = "cited" if c.index in answer.cited else "not cited"
        flag = " · <b>contains text addressed to the assistant (not followed)</b>" if c.withheld else ""
        parts.append(
            f"<div class='kb-source'><div><b>[{c.index}]</b> "
            f"<a href='{html.escape(file_link(c))}' target='_blank'>{html.escape(c.relpath)}</a>"
            f"{' · ' + where if where else ''} · {cited}{flag}</div>"
            f"<blockquote>{highlight(c, answer.text)}</blockquote></div>"
        )
    return "".join(parts)


def answer_markdown(answer: Answer) -> str:
    lines = [answer.text]
    if len(answer.parts) > 1 and all(p.answer for p in answer.parts):  # one block per part of the question
        lines = [f"**{p.text}**\n\n{p.answer}\n" for p in answer.parts]
    elif len(answer.parts) > 1:
        status = "".join(f"\n- {'✓' if p.found else '✗ not found:'} {p.text}" for p in answer.parts)
        lines.append(f"\n*The question's parts:*{status}")
    if answer.notice:
        lines.insert(0, f"> ⚠ {answer.notice}\n")
    used = [c for c in answer.citations if c.index in answer.cited]
    if used:
        lines.append("\n**Sources**")
        for c in used:
            lines.append(f"{c.index}. [{c.relpath}]({file_link(c)}){', ' + c.where if c.where else ''}")
    if answer.removed:
        items = "".join(
            f"<li>{html.escape(r.text)} <i>({html.escape('; '.join(r.reasons) or 'not supported')})</i></li>"
            for r in answer.removed
        )
        lines.append(
            "\n<details class='kb-unverified'><summary>Unverified statements, not part of the answer "
            f"({len(answer.removed)})</summary><p>The model wrote these, but the sources do not support them:</p>"
            f"<ul>{items}</ul></details>"
        )
    return "\n".join(lines)


def build_page(assistant: PageServices) -> Any:
    """The gr.Blocks page. Each event acts for the signed-in identity (from the request's sign-in cookie), within
    the collections it may read; filter choices and the status line are loaded per visitor."""
    import gradio as gr
    from gradio import utils as gradio_utils

    chain = assistant.chain
    css = (
        ".kb-source{margin:.5em 0;padding:.4em .6em;border-left:3px solid #999}"
        ".kb-source mark{background:#ffe08a} .kb-muted{color:#777}"
        ".kb-unverified{margin-top:.6em;padding:.3em .6em;border:1px dashed #c77;color:#744}"
    )

    def who(request: gr.Request | None) -> Identity:
        headers = {k.lower(): v for k, v in dict(request.headers).items()} if request is not None else {}
        try:
            identity = assistant.authenticator.identify(headers)
        except AuthError as exc:
            raise gr.Error(str(exc)) from exc
        if identity is None:
            raise gr.Error("your sign-in has expired; reload the page to sign in again")
        return identity

    def limit_key(identity: Identity, request: gr.Request | None) -> str:
        if identity.via != "local":
            return identity.limit_key
        client = getattr(request, "client", None)
        return "ip:" + str(getattr(client, "host", "unknown"))

    with gr.Blocks(title="Knowledge base") as page:
        gr.Markdown("## Ask the knowledge base")
        status_md = gr.Markdown("", elem_id="kb-status")
        answers = gr.State([])
        current = gr.BrowserState(None, storage_key="kb-conversation")  # survives a reload of the page
        pending = gr.State(None)  # an action waiting for the user's confirmation: (name, arguments, question)
        with gr.Row():
            with gr.Column(scale=3):
                chat = gr.Chatbot(label="Answers", height=460, elem_id="kb-chat", feedback_options=("Like", "Dislike"))
                with gr.Row():
                    question = gr.Textbox(
                        placeholder="Ask a question about your documents",
                        show_label=False,
                        scale=5,
                        elem_id="kb-question",
                    )
                    ask = gr.Button("Ask", variant="primary", scale=1, elem_id="kb-ask")
                with gr.Row(visible=False, elem_id="kb-confirm-row") as confirm_row:
                    confirm_note = gr.Markdown(elem_id="kb-confirm-note")
                    confirm = gr.Button("Run it", variant="primary", elem_id="kb-confirm", scale=1)
                    cancel = gr.Button("Cancel", elem_id="kb-cancel", scale=1)
                with gr.Row():
                    comment = gr.Textbox(placeholder="Optional comment on the last answer", show_label=False, scale=5)
                    send_comment = gr.Button("Send feedback", scale=1)
                sources = gr.HTML(sources_html(None), elem_id="kb-sources")
            with gr.Column(scale=2):
                with gr.Accordion("Conversations", open=True):
                    conv_list = gr.Dropdown([], label="Your conversations", elem_id="kb-conversations")
                    with gr.Row():
                        new_conv = gr.Button("New conversation", elem_id="kb-new-conversation", scale=2)
                        delete_conv = gr.Button("Delete", variant="stop", elem_id="kb-delete-conversation", scale=1)
                    with gr.Row():
                        title = gr.Textbox(placeholder="New name", show_label=False, elem_id="kb-title", scale=2)
                        rename = gr.Button("Rename", elem_id="kb-rename", scale=1)
                with gr.Accordion("Filters", open=True):
                    collections = gr.Dropdown([], multiselect=True, label="Collections", elem_id="kb-collections")
                    file_types = gr.Dropdown([], multiselect=True, label="File types")
                    tags = gr.Dropdown([], multiselect=True, label="Tags")
                    after = gr.Textbox(label="Modified after (YYYY-MM-DD)")
                    before = gr.Textbox(label="Modified before (YYYY-MM-DD)")
                with gr.Accordion("Add documents", open=False):
                    files = gr.File(file_count="multiple", label="Files (PDF, DOCX, PPTX, HTML, MD, TXT)")
                    target = gr.Textbox(label="Collection", value="uploads")
                    add = gr.Button("Ingest")
                    upload_status = gr.Markdown()

        store = assistant.conversations

        def choices(identity: Identity) -> list[tuple[str, str]]:
            return [(str(c["metadata"].get("title") or "untitled"), c["id"]) for c in store.recent(identity.user)]

        def opened(identity: Identity, conv_id: str | None) -> tuple[Any, ...]:
            """(chat, kept answers, sources, current id, list) for a conversation of this user, or a fresh one."""
            conv_id = _conversation_id(conv_id)
            listed = choices(identity)
            try:
                items, _ = store.items(identity.user, conv_id, "asc", 1000) if conv_id else ([], False)
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

        def visitor(conv_id: str | None, request: gr.Request) -> tuple[Any, ...]:
            identity = who(request)
            f = assistant.facets(identity)
            status = assistant.status(identity)
            if identity.via != "local":
                status += " · [sign out](/logout)"
            return (
                status,
                gr.update(choices=f["collection"], value=[]),
                gr.update(choices=f["file_type"], value=[]),
                gr.update(choices=f["tag"], value=[]),
                *opened(identity, conv_id),
            )

        shown_conversation = [chat, answers, sources, current, conv_list]
        page.load(visitor, [current], [status_md, collections, file_types, tags, *shown_conversation])

        def on_pick(conv_id: str | None, request: gr.Request) -> tuple[Any, ...]:
            return opened(who(request), conv_id)

        conv_list.input(on_pick, [conv_list], shown_conversation)

        def on_new(request: gr.Request) -> tuple[Any, ...]:
            return opened(who(request), None)

        new_conv.click(on_new, None, shown_conversation)

        def on_rename(name: str, conv_id: str | None, request: gr.Request) -> tuple[Any, str]:
            identity, conv_id, name = who(request), _conversation_id(conv_id), name or ""
            if not conv_id or not name.strip():
                raise gr.Error("open a conversation and type its new name first")
            try:
                store.update(identity.user, conv_id, {"title": store.clean(name.strip())[:120]})  # redacted, then cut
            except NotFound as exc:
                raise gr.Error("that conversation no longer exists") from exc
            return gr.update(choices=choices(identity), value=conv_id), ""

        rename.click(on_rename, [title, current], [conv_list, title])

        def on_delete(conv_id: str | None, request: gr.Request) -> tuple[Any, ...]:
            identity, conv_id = who(request), _conversation_id(conv_id)
            if conv_id:
                with contextlib.suppress(NotFound):  # already gone
                    store.delete(identity.user, conv_id)
            return opened(identity, None)

        delete_conv.click(on_delete, [current], shown_conversation)

        def remember(
            identity: Identity, conv_id: str | None, message: str, answer: Answer | str, markdown: str, shown: str
        ) -> tuple[str | None, Any]:
            """Stores the turn (an answer, or the report of an action) in the user's conversation, a new one for
            the first question; the page keeps working if the store cannot be written, and says so. The store
            redacts personal data (privacy.redact) in the question, the answer and its markdown; the sources' HTML is
            the documents' own passages, kept as the index holds them."""
            conv_id = _conversation_id(conv_id)
            try:
                if conv_id is None:
                    # Redacted before it is cut: an address cut in half is no longer recognised as one.
                    conv_id = str(store.create(identity.user, {"title": store.clean(message.strip())[:80]})["id"])
                if isinstance(answer, str):
                    reply = message_item("assistant", answer)
                else:
                    reply = message_item("assistant", answer.text, file_citations(answer))
                store.add_items(
                    identity.user,
                    conv_id,
                    [message_item("user", message), {**reply, "kb_markdown": markdown, "kb_sources_html": shown}],
                )
            except (KBError, NotFound) as exc:
                gr.Warning(f"the conversation could not be saved ({exc})")
                return conv_id, gr.update()
            return conv_id, gr.update(choices=choices(identity), value=conv_id)

        def respond(
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
        ) -> Iterator[tuple[Any, ...]]:
            identity = who(request)
            message, since, until = message or "", since or "", until or ""  # a client may send null for a text box
            filters = {
                "collections": cols or None,
                "file_types": types or None,
                "tags": tag_list or None,
                "modified_after": since.strip() or None,
                "modified_before": until.strip() or None,
            }
            try:
                flt = Filter.parse(filters)
                chain.validate(message)
                check_known(flt, assistant.facets(identity))
                assistant.quotas.request(limit_key(identity, request))
                release = assistant.quotas.start_answer(limit_key(identity, request))
            except (KBError, OverLimit) as exc:
                raise gr.Error(str(exc)) from exc
            scope = assistant.access.read_scope(identity)
            past = [{"role": m["role"], "content": _text(m["content"])} for m in history]
            history = [*history, {"role": "user", "content": message}, {"role": "assistant", "content": ""}]
            streamed = ""
            try:
                decision = actions.decide(assistant, message, past, identity, scope)
            except KBError as exc:
                release()
                raise gr.Error(str(exc)) from exc
            if decision is not None:  # the model chose an action: run it, or ask before it changes something
                release()
                call, outcome = decision.call, decision.outcome
                if outcome.status == "needs_confirmation":
                    note = (f"**{html.escape(call.name)}** would change something, with "
                            f"`{html.escape(call.arguments)}`. Run it?")  # fmt: skip
                    history[-1] = {"role": "assistant", "content": note}
                    waiting = (call.name, call.arguments, message)
                    yield history, kept, gr.update(), "", conv_id, gr.update(), waiting, gr.update(visible=True), note
                    return
                text = decision.text
                history[-1] = {"role": "assistant", "content": text}
                conv_id, listed = remember(identity, conv_id, message, text, text, sources_html(None))
                yield history, [*kept, None], gr.update(), "", conv_id, listed, None, gr.update(visible=False), ""
                return
            try:
                for event in chain.stream(message, past, flt, None, scope):
                    if isinstance(event, Delta):
                        streamed += event.text
                        history[-1] = {"role": "assistant", "content": streamed}
                        yield history, kept, gr.update(), "", gr.update(), gr.update(), None, gr.update(), gr.update()
                    else:
                        used = {k: v for k, v in filters.items() if v}
                        seq = assistant.recorder.answer(identity, event, used, past, conv_id or "")
                        markdown, shown = answer_markdown(event), sources_html(event)
                        history[-1] = {"role": "assistant", "content": markdown}
                        conv_id, listed = remember(identity, conv_id, message, event, markdown, shown)
                        hidden = gr.update(visible=False)
                        yield history, [*kept, (event, seq)], shown, "", conv_id, listed, None, hidden, ""
            except KBError as exc:
                raise gr.Error(str(exc)) from exc
            finally:
                release()

        inputs = [question, chat, answers, current, collections, file_types, tags, after, before]
        outputs = [chat, answers, sources, question, current, conv_list, pending, confirm_row, confirm_note]

        def on_decide(approve: bool) -> Any:
            def decided(
                waiting: Any, history: list[dict[str, Any]], kept: list[Any], conv_id: str | None, request: gr.Request
            ) -> tuple[Any, ...]:
                identity = who(request)
                if not waiting:
                    raise gr.Error("no action is waiting for confirmation")
                name, arguments, asked = waiting
                call = ToolCall(f"call_{len(history)}", name, arguments)
                _, text = actions.confirmed(assistant, asked, call, identity, approve, Usage())
                history = [*history[:-1], {"role": "assistant", "content": text}]  # the confirmation turn
                conv_id, listed = remember(identity, conv_id, asked, text, text, sources_html(None))
                return history, [*kept, None], None, gr.update(visible=False), conv_id, listed

            return decided

        decided_in = [pending, chat, answers, current]
        decided_out = [chat, answers, pending, confirm_row, current, conv_list]
        confirm.click(on_decide(True), decided_in, decided_out)
        cancel.click(on_decide(False), decided_in, decided_out)
        limit = assistant.settings.serving.page_concurrency
        question.submit(respond, inputs, outputs, concurrency_limit=limit, concurrency_id="answer")
        ask.click(respond, inputs, outputs, concurrency_limit=limit, concurrency_id="answer")

        def on_like(data: gr.LikeData, kept: list[Any], request: gr.Request) -> None:
            identity = who(request)
            position = data.index[0] if isinstance(data.index, list | tuple) else data.index
            item = kept[int(position) // 2] if kept and int(position) // 2 < len(kept) else None
            if item is not None:
                answer, seq = item
                assistant.recorder.feedback_given(identity, answer, 1 if data.liked else -1, "", seq)
                gr.Info("Thanks for the feedback")

        chat.like(on_like, [answers], None)

        def on_comment(text: str, kept: list[Any], request: gr.Request) -> str:
            identity, text = who(request), text or ""
            if not kept or kept[-1] is None:
                raise gr.Error("ask a question first; the comment is stored with the last answer of this visit")
            answer, seq = kept[-1]
            assistant.recorder.feedback_given(identity, answer, 0, text, seq)
            gr.Info("Comment saved")
            return ""

        send_comment.click(on_comment, [comment, answers], [comment])

        def on_upload(paths: list[Any] | None, collection: str, request: gr.Request) -> tuple[str, str, Any, Any, Any]:
            identity = who(request)
            if not paths:
                raise gr.Error("choose one or more files first")
            name = re.sub(r"[^A-Za-z0-9_-]+", "-", str(collection or "").strip()) or "uploads"
            try:
                # Only files this page's upload put in Gradio's upload folder: a client can post any path here.
                if not isinstance(paths, list):
                    raise PathRefused("send the uploaded files as a list; choose them in the page's upload box")
                folder = gradio_utils.get_upload_folder()
                chosen = [uploaded_file(_upload_path(p), folder) for p in paths]
                message = assistant.ingest_upload(chosen, name, identity)
            except (KBError, OverLimit) as exc:  # no permission, over the rate limit, or another ingest is writing
                raise gr.Error(str(exc)) from exc
            except OSError as exc:
                raise gr.Error(
                    f"could not store the upload ({exc.strerror or exc}); check serving.uploads_dir"
                ) from exc
            f = assistant.facets(identity)
            return (
                message,
                assistant.status(identity),
                gr.update(choices=f["collection"]),
                gr.update(choices=f["file_type"]),
                gr.update(choices=f["tag"]),
            )

        add.click(on_upload, [files, target], [upload_status, status_md, collections, file_types, tags])
    for block in page.blocks.values():
        _never_fetch(block, gr.Error)
    page.kb_css = css
    return page


def _never_fetch(block: Any, error: type[Exception]) -> None:
    """A page call can name a URL wherever a file goes (the upload box, a chat message's file part), and Gradio
    downloads it into its cache before any handler runs: this server fetches nothing for a client."""
    for name in ("async_move_resource_to_block_cache", "move_resource_to_block_cache"):
        move = getattr(block, name, None)
        if move is None:
            continue
        if name.startswith("async"):

            async def refusing_async(path: Any, _move: Any = move) -> Any:
                _refuse_url(path, error)
                return await _move(path)

            setattr(block, name, refusing_async)
        else:

            def refusing(path: Any, _move: Any = move) -> Any:
                _refuse_url(path, error)
                return _move(path)

            setattr(block, name, refusing)


def _refuse_url(path: Any, error: type[Exception]) -> None:
    if isinstance(path, str) and "://" in path[:16]:
        raise error("upload the file itself; this server does not fetch addresses for its clients")


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
