"""Text between Slack and the answer path: a Slack message as a plain question, and an answer as Slack mrkdwn
with its cited sources as links."""

from __future__ import annotations

import html
import re

from serving.answer.citations import Citation, source_link
from serving.answer.results import Answer

PLACEHOLDER = "Looking in the documents..."
TOO_MANY = "Too many requests, try again in a minute."
FAILED = "Something went wrong while answering; please try again later (the server's log says what)."
MAX_CHARS = 3_500  # Slack shows longer messages folded; the whole answer stays on the page and in /v1

_ENTITY = re.compile(r"<([^<>]*)>")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_HEADING = re.compile(r"^#{1,6}\s+(.+)$", re.MULTILINE)


def question_text(text: str, bot_user_id: str | None) -> str:
    """What a person typed, without Slack's markup: the bot's own mention dropped, other mentions, channels and
    links as their readable names, entities unescaped."""

    def readable(match: re.Match[str]) -> str:
        inner = match.group(1)
        target, _, label = inner.partition("|")
        if target.startswith("@"):
            return "" if target[1:] == bot_user_id else f"@{label or 'someone'}"
        if target.startswith("#"):
            return f"#{label or 'channel'}"
        if target.startswith("!"):
            return f"@{label or target[1:].split('^')[0]}"
        return label or target

    return html.unescape(_ENTITY.sub(readable, text)).strip()


_PING = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)


def escape(text: str) -> str:
    """Text Slack shows as written: &, < and > escaped, and a plain @channel, @here or @everyone broken by a
    zero-width joiner, so nothing in a document or a question can ping a channel or make a link (the bot also
    posts with parse=none and link_names off)."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _PING.sub("@\u2060\\1", text)


def mrkdwn(text: str) -> str:
    """The answer's markdown as Slack's mrkdwn (bold and headings; the rest reads the same)."""
    text = _BOLD.sub(r"*\1*", escape(text))
    return _HEADING.sub(r"*\1*", text)


def source_line(c: Citation, public_url: str | None) -> str:
    """'[1] <link|it/vpn-setup.html, section Connecting>', or the label alone without a public address."""
    label = escape(c.label).replace("|", "/")
    if not public_url and not c.source.startswith(("http://", "https://")):
        return f"[{c.index}] {label}"
    link = source_link(c.source, public_url or "", c.page)
    return f"[{c.index}] <{link}|{label}>"


def answer_text(answer: Answer, public_url: str | None) -> str:
    """The answer as one Slack message: the text, its notice, then the sources it cites."""
    body = mrkdwn(answer.text)
    if len(body) > MAX_CHARS:
        body = body[:MAX_CHARS].rsplit(" ", 1)[0] + " ... (cut here; the page shows the whole answer)"
    lines = [body]
    if answer.notice:
        lines.append(f"_{escape(answer.notice)}_")
    cited = [c for c in answer.citations if c.index in answer.cited]
    if cited:
        lines.append("*Sources*\n" + "\n".join(source_line(c, public_url) for c in cited))
    return "\n\n".join(lines)
