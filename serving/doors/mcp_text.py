"""How the MCP tools' results read: plain text an assistant can quote and a person can check (the answer with its
numbered sources; passages with their id, file, page or section and link)."""

from __future__ import annotations

from collections.abc import Sequence

from retrieval.types import Chunk, Hit
from serving.answer.citations import source_link
from serving.doors.core import Asked


def file_link(base_url: str | None, source: str) -> str | None:
    """The link that opens an indexed file (/v1/files, behind the same authentication), under the server's public
    address (auth.public_url) when it has one; a web page's own URL."""
    if source.startswith(("http://", "https://")) or base_url:
        return source_link(source, base_url or "")
    return None


def _where(page: int | None, section: str) -> str:
    return f"page {page}" if page else (f"section {section}" if section else "")


def _heading(chunk: Chunk, base_url: str | None) -> str:
    m = chunk.meta
    label = ", ".join(x for x in (m.relpath or chunk.source, _where(m.page, m.section)) if x)
    link = file_link(base_url, chunk.source)
    lines = [f"id: {chunk.id}", f"file: {label}", f"path: {chunk.source}"]
    if m.title:
        lines.insert(1, f"title: {m.title}")
    if link:
        lines.append(f"link: {link}")
    return "\n".join(lines)


def hits_text(hits: Sequence[Hit], base_url: str | None) -> str:
    """Search results: each passage's id, file, page or section, path and link, then its text."""
    if not hits:
        return "No passage found in the documents you may read."
    blocks = [f"[{i}] {_heading(h.chunk, base_url)}\n\n{h.chunk.text.strip()}" for i, h in enumerate(hits, 1)]
    return "\n\n---\n\n".join(blocks)


def answer_text(asked: Asked, base_url: str | None) -> str:
    """The answer as the page shows it: its text with [n] markers, then the numbered sources it cites."""
    answer = asked.answer
    lines = [answer.text.strip()]
    cited = [c for c in answer.citations if c.index in answer.cited]
    if cited:
        lines += ["", "Sources:"]
        for c in cited:
            link = file_link(base_url, c.source)
            lines.append(f"[{c.index}] {c.label}" + (f" <{link}>" if link else f" (path: {c.source})"))
    if answer.notice:
        lines += ["", f"Note: {answer.notice}"]
    return "\n".join(lines)


def passage_text(chunk: Chunk, base_url: str | None) -> str:
    return f"{_heading(chunk, base_url)}\n\n{chunk.text.strip()}"


def document_text(chunks: Sequence[Chunk], base_url: str | None, limit: int) -> str:
    """A whole file's passages in reading order (overlapping chunks are shown as indexed), cut at `limit` chars."""
    first = chunks[0]
    head = _heading(first, base_url).split("\n", 1)[1]  # the file's, not the first passage's id
    body = "\n\n".join(c.text.strip() for c in chunks)
    if len(body) > limit:
        body = body[:limit] + f"\n\n[cut at {limit:,} characters; fetch passages by id for the rest]"
    return f"{head}\n\n{body}"
