"""The page's components (gr.Blocks), with the labels and element ids the browser tests and clients rely on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from serving.ui.render import sources_html

CSS = (
    ".kb-source{margin:.5em 0;padding:.4em .6em;border-left:3px solid #999}"
    ".kb-source mark{background:#ffe08a} .kb-muted{color:#777}"
    ".kb-unverified{margin-top:.6em;padding:.3em .6em;border:1px dashed #c77;color:#744}"
)


@dataclass(frozen=True)
class Layout:
    """Every component an event reads or writes."""

    status_md: Any
    answers: Any  # the answers of this visit, for feedback: (answer, seq) or None per assistant turn
    current: Any  # the open conversation's id, kept in the browser
    pending: Any  # an action waiting for the user's confirmation: (name, arguments, question)
    chat: Any
    question: Any
    ask: Any
    confirm_row: Any
    confirm_note: Any
    confirm: Any
    cancel: Any
    comment: Any
    send_comment: Any
    sources: Any
    conv_list: Any
    new_conv: Any
    delete_conv: Any
    title: Any
    rename: Any
    collections: Any
    file_types: Any
    tags: Any
    after: Any
    before: Any
    files: Any
    target: Any
    add: Any
    upload_status: Any


def lay_out() -> Layout:
    """The components, created inside the caller's gr.Blocks: the chat and its controls left, the side panel right."""
    import gradio as gr

    gr.Markdown("## Ask the knowledge base")
    status_md = gr.Markdown("", elem_id="kb-status")
    answers = gr.State([])
    current = gr.BrowserState(None, storage_key="kb-conversation")  # survives a reload of the page
    pending = gr.State(None)
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
            side = _side_panel()
    return Layout(
        status_md, answers, current, pending, chat, question, ask, confirm_row, confirm_note, confirm, cancel,
        comment, send_comment, sources, *side,
    )  # fmt: skip


def _side_panel() -> tuple[Any, ...]:
    """Conversations, filters and upload: the Layout's fields from conv_list on, in their order."""
    import gradio as gr

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
    return (conv_list, new_conv, delete_conv, title, rename, collections, file_types, tags, after, before, files,
            target, add, upload_status)  # fmt: skip
