"""What the page shows of an answer: its markdown (parts, notice, sources, unverified statements set apart) and the
sources' HTML with the passages the answer draws on highlighted."""

from __future__ import annotations

import html

from retrieval.text import content_stems, sentence_spans
from serving.answer.citations import Citation, claims, markdown_text, source_link
from serving.answer.results import Answer


def file_link(c: Citation) -> str:
    """The /v1/files link to a cited file, at its page for a PDF; a web page's own URL."""
    return source_link(c.source, page=c.page)


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
    """The sources panel: each passage with its link, whether it is cited, and the cited sentences marked."""
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
    """The answer as the chat shows it: per-part blocks, the notice, the cited sources, unverified statements apart."""
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
            where = f", {markdown_text(c.where)}" if c.where else ""
            lines.append(f"{c.index}. [{markdown_text(c.relpath)}]({file_link(c)}){where}")
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
