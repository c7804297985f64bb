"""What every front door (MCP, Slack, Teams) shares with /v1: one answer path, within the caller's collections, with
the same rate limits, audit trail (the door recorded), PII redaction and metrics (by door).

A door finds who is asking its own way (a bearer token for MCP, a verified e-mail for Slack and Teams: `person`) and
then asks, searches and reads only through a `Door`, so no door can skip a check /v1 makes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from configs.errors import AccessDenied
from configs.settings import Settings
from retrieval.filters import Filter, Scope, check_known
from retrieval.retriever import Retriever
from retrieval.types import Chunk, Hit
from serving.access.auth import Authenticator
from serving.access.identity import Access, Identity
from serving.access.keys import KeyStore
from serving.access.quotas import Quotas
from serving.answer.chain import AnswerChain
from serving.answer.results import Answer
from serving.llm.protocol import Message
from serving.observability.metrics import Metrics
from serving.observability.recorder import Recorder

MAX_DOCUMENT_CHARS = 200_000  # a fetched document longer than this is cut (and says so)


class DoorServices(Protocol):
    """What a door uses of the object graph serving.assistant builds."""

    settings: Settings
    chain: AnswerChain
    retriever: Retriever
    access: Access
    quotas: Quotas
    recorder: Recorder
    metrics: Metrics
    authenticator: Authenticator

    def facets(self, identity: Identity) -> dict[str, list[str]]: ...


@dataclass(frozen=True)
class Mounted:
    """What a door added to the app: its paths that check their own credentials (a Slack signature, a Bot Framework
    token) or are public (the MCP protected-resource metadata), which the authentication gate passes through
    without reading any credential, and what must run while the server runs."""

    name: str
    open_paths: tuple[str, ...] = ()
    lifespan: Callable[[], AbstractAsyncContextManager[Any]] | None = None


@dataclass(frozen=True)
class Asked:
    """An answer given through a door, and its audit record (None with the audit trail off)."""

    answer: Answer
    audit_seq: int | None


class Door:
    """One way in (name: mcp, slack, teams). Every method acts for an identity, within what access.groups lets
    it read (or a narrower scope the door passes: a Slack channel's members' common collections)."""

    def __init__(self, assistant: DoorServices, name: str, counted_outside: bool = False) -> None:
        """counted_outside: the door counts each of its requests against the rate limit itself (MCP over HTTP
        counts every /mcp request), so a call here is not counted again."""
        self.assistant = assistant
        self.name = name
        self._count = not counted_outside

    def _request(self, identity: Identity) -> None:
        if self._count:
            self.assistant.quotas.request(identity.limit_key)  # OverLimit: the door says "too many requests"

    def scope(self, identity: Identity) -> Scope:
        return self.assistant.access.read_scope(identity)

    def _filter(self, filters: dict[str, Any] | None, identity: Identity) -> Filter:
        flt = Filter.parse(filters or None)
        if not flt.is_empty():
            check_known(flt, self.assistant.facets(identity))  # names only what the identity may see
        return flt

    def ask(
        self,
        identity: Identity,
        question: str,
        history: Sequence[Message] = (),
        filters: dict[str, Any] | None = None,
        scope: Scope | None = None,
        session: str = "",
    ) -> Asked:
        """The verified answer, as /v1/chat/completions gives it: counted against the identity's rate limits,
        recorded in the audit trail (redacted) with this door's name."""
        a = self.assistant
        self._request(identity)
        release = a.quotas.start_answer(identity.limit_key)
        try:
            question = a.chain.validate(question)
            flt = self._filter(filters, identity)
            t0 = time.perf_counter()
            answer = a.chain.answer(question, history, flt, None, scope if scope is not None else self.scope(identity))
            seq = a.recorder.answer(identity, answer, filters or {}, history, session, door=self.name)
            a.metrics.through(self.name, "ask", time.perf_counter() - t0)
            return Asked(answer, seq)
        finally:
            release()

    def search(
        self, identity: Identity, query: str, filters: dict[str, Any] | None = None, top_k: int = 5
    ) -> list[Hit]:
        """The passages /v1/retrieve would return, within the identity's collections."""
        a = self.assistant
        self._request(identity)
        query = a.chain.validate(query)
        flt = self._filter(filters, identity)
        t0 = time.perf_counter()
        result = a.retriever.search(query, flt, top_k, scope=self.scope(identity))
        a.metrics.searched(result.timings_ms, result.warnings)
        a.metrics.through(self.name, "search", time.perf_counter() - t0)
        return list(result.hits)

    def collections(self, identity: Identity) -> list[str]:
        """The collections the identity may read."""
        return list(self.assistant.facets(identity).get("collection", []))

    def passage(self, identity: Identity, chunk_id: str) -> Chunk | None:
        """One indexed passage by its id, when it lies in a collection the identity may read (else None: its
        existence is not confirmed)."""
        self._request(identity)
        chunk = self.assistant.retriever.store.fetch([chunk_id]).get(chunk_id)
        if chunk is None or not self.scope(identity).allows(chunk.meta.collection):
            return None
        return chunk

    def document(self, identity: Identity, source: str) -> list[Chunk]:
        """An indexed file's passages in reading order, when the identity may read it ([] otherwise)."""
        a = self.assistant
        self._request(identity)
        lexical = a.retriever.lexical
        scoped = self.scope(identity).restrict(Filter(sources=(source,)))
        if lexical is None or scoped is None:
            return []
        matching = lexical.matching(scoped, ids_up_to=10_000)
        if not matching.count or matching.ids is None:
            return []
        chunks = a.retriever.store.fetch(list(matching.ids))
        return sorted(chunks.values(), key=lambda c: c.meta.chunk_index)

    def rated(self, identity: Identity, answer: Answer, rating: int, audit_seq: int | None, comment: str = "") -> int:
        """Feedback on an answer given through this door (a thumbs reaction), like the page's buttons."""
        return self.assistant.recorder.feedback_given(identity, answer, rating, comment, audit_seq)


def person(
    settings: Settings, keys: KeyStore, auth_required: bool, email: str | None, name: str | None = None
) -> Identity | None:
    """The identity of a person a chat platform vouches for by their verified e-mail: their groups from
    doors.people, else from an active API key created for that e-mail. Someone neither knows: None when
    doors.unmapped is "refuse", else an anonymous caller who reads nothing (a chat door is reached from outside
    this machine: never as its local user, even while the server itself has no authentication)."""
    doors = settings.doors
    address = (email or "").strip()
    # a look-alike ("kate" with a Kelvin sign for the K) must not lower() into a mapped address
    address = address.lower() if address.isascii() else ""
    if address:
        people = {k.lower(): v for k, v in doors.people.items()}
        if address in people:
            return Identity(address, frozenset(people[address]), "door", name=name or address)
        for record in keys.records():
            if record.revoked is None and record.user.lower() == address:
                return Identity(address, record.groups, "door", key_id=record.id, name=name or address)
    if doors.unmapped == "refuse":
        return None
    return Identity(f"anonymous:{address or 'unknown'}", frozenset(), "door", name=name)


def refused(who: str) -> AccessDenied:
    """The error for a person no mapping knows (doors.unmapped: refuse)."""
    return AccessDenied(
        f"{who} is not known to the knowledge base: an administrator adds their e-mail to doors.people (or creates "
        "an API key for it) before they can ask"
    )
