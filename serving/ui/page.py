"""The Gradio Q&A page: streaming answers, sources with highlighted passages, filters, feedback, upload.

layout.py creates the components, handlers.py says what each event does (PageHandlers over PageServices), render.py
words an answer and its sources; this module wires them together."""

from __future__ import annotations

from typing import Any

from serving.ui.handlers import PageHandlers
from serving.ui.layout import CSS, Layout, lay_out
from serving.ui.services import PageServices

__all__ = ["PageServices", "build_page"]


def build_page(assistant: PageServices) -> Any:
    """The gr.Blocks page. Each event acts for the identity the authentication gate resolved for its request,
    within the collections it may read; filter choices and the status line are loaded per visitor."""
    import gradio as gr

    handlers = PageHandlers(assistant)
    with gr.Blocks(title="Knowledge base") as page:
        layout = lay_out()
        _wire(page, layout, handlers, assistant.settings.serving.page_concurrency)
    for block in page.blocks.values():
        _never_fetch(block, gr.Error)
    page.kb_css = CSS
    return page


def _wire(page: Any, c: Layout, h: PageHandlers, limit: int) -> None:
    """The events, in the order that numbers them in the page's API (fn_index)."""
    filters = [c.collections, c.file_types, c.tags]
    shown_conversation = [c.chat, c.answers, c.sources, c.current, c.conv_list]
    page.load(h.visitor, [c.current], [c.status_md, *filters, *shown_conversation])
    c.conv_list.input(h.on_pick, [c.conv_list], shown_conversation)
    c.new_conv.click(h.on_new, None, shown_conversation)
    c.rename.click(h.on_rename, [c.title, c.current], [c.conv_list, c.title])
    c.delete_conv.click(h.on_delete, [c.current], shown_conversation)
    decided_in = [c.pending, c.chat, c.answers, c.current]
    decided_out = [c.chat, c.answers, c.pending, c.confirm_row, c.current, c.conv_list]
    c.confirm.click(h.on_decide(True), decided_in, decided_out)
    c.cancel.click(h.on_decide(False), decided_in, decided_out)
    inputs = [c.question, c.chat, c.answers, c.current, *filters, c.after, c.before]
    outputs = [c.chat, c.answers, c.sources, c.question, c.current, c.conv_list, c.pending, c.confirm_row,
               c.confirm_note]  # fmt: skip
    c.question.submit(h.respond, inputs, outputs, concurrency_limit=limit, concurrency_id="answer")
    c.ask.click(h.respond, inputs, outputs, concurrency_limit=limit, concurrency_id="answer")
    c.chat.like(h.on_like, [c.answers], None)
    c.send_comment.click(h.on_comment, [c.comment, c.answers], [c.comment])
    c.add.click(h.on_upload, [c.files, c.target], [c.upload_status, c.status_md, *filters])


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
