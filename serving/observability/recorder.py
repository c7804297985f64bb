"""What the audit trail, the feedback store and the metrics receive: answers, feedback and admin actions, with
personal data redacted first (privacy.redact)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from typing import Any

from opentelemetry import trace

from configs.audit import AuditLog
from serving.access.identity import Identity
from serving.access.pii import Redactor
from serving.answer.results import Answer
from serving.llm.protocol import Message
from serving.observability.metrics import Metrics
from serving.store.feedback import FeedbackStore

logger = logging.getLogger(__name__)


class Recorder:
    def __init__(
        self,
        audit: AuditLog | None,
        feedback: FeedbackStore,
        redactor: Redactor | None,
        metrics: Metrics | None = None,
        trace_question: bool = False,
    ) -> None:
        self.audit = audit
        self.feedback = feedback
        self.redactor = redactor
        self.metrics = metrics
        self.trace_question = trace_question

    def clean(self, text: str) -> str:
        """The text with personal data redacted (when privacy.redact is on)."""
        return self._clean(text)

    def _clean(self, text: str) -> str:
        return self.redactor.redact(text) if self.redactor is not None and text else text

    def answer(
        self,
        identity: Identity,
        answer: Answer,
        filters: dict[str, Any] | None = None,
        history: Sequence[Message] = (),
        session: str = "",
        door: str = "",
    ) -> int | None:
        """Records an answered question; returns its audit sequence number (None with the audit trail off).
        The conversation it belongs to is named by who asked, where (session: the page's tab, a Slack thread) and
        its first question; its turn is the number of questions asked so far, this one included. door: the way in
        (mcp, slack, teams), recorded when given."""
        if self.metrics is not None:
            self.metrics.answered(answer)
        if self.trace_question:  # on the request's span, redacted (observability.trace_question)
            trace.get_current_span().set_attribute("kb.question", self._clean(answer.question))
        if self.audit is None:
            return None
        body = {
            "question": self._clean(answer.question),
            "standalone_question": self._clean(answer.standalone_question),
            "answer": self._clean(answer.text),
            "mode": answer.mode,
            "model": answer.model,
            "sources": [
                {"path": c.relpath, "source": c.source, "page": c.page, "cited": c.index in answer.cited}
                for c in answer.citations
            ],
            "unverified": [self._clean(r.text) for r in answer.removed],
            "timings_ms": {k: round(v, 1) for k, v in answer.timings_ms.items()},
            "filters": filters or {},
            "via": identity.via,
            "conversation": conversation_id(identity.user, session, history, answer.question),
            "turn": 1 + sum(1 for m in history if m.get("role") == "user"),
        }
        if door:
            body["door"] = door
        return self.audit.append("answer", identity.user, body)

    def feedback_given(
        self, identity: Identity, answer: Answer, rating: int, comment: str = "", audit_seq: int | None = None
    ) -> int:
        """Stores feedback on an answer (redacted) and records it in the audit trail, linked to the answer."""
        if self.metrics is not None:
            self.metrics.rated(rating)
        sources = [c.to_dict() for c in answer.citations]
        for s in sources:
            s["text"] = self._clean(str(s.get("text", "")))
        fid = self.feedback.add(
            rating,
            self._clean(answer.question),
            self._clean(answer.text),
            sources,
            answer.model,
            self._clean(comment),
            identity.user,
            audit_seq,
        )
        if self.audit is not None:
            body = {"answer_seq": audit_seq, "rating": rating, "comment": self._clean(comment), "feedback_id": fid}
            self.audit.append("feedback", identity.user, body)
        return fid

    def action(self, kind: str, identity: Identity, details: dict[str, Any]) -> None:
        """An admin action or a sign-in (upload, key.create, signin, ...)."""
        if self.audit is not None:
            self.audit.append(kind, identity.user, details)


def conversation_id(user: str, session: str, history: Sequence[Message], question: str) -> str:
    """A stable id for a conversation: the same user, session and first question (never stored in clear)."""
    first = next((str(m.get("content", "")) for m in history if m.get("role") == "user"), question)
    return hashlib.sha256(f"{user}\x1f{session}\x1f{first}".encode()).hexdigest()[:16]
