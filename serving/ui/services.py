"""What the page's handlers work with: the services of the object graph (PageServices) and the identity the
authentication gate resolved for the request."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import gradio as gr

from serving.access.identity import Identity
from serving.access.quotas import Quotas
from serving.actions.flow import ActionServices
from serving.store.conversations import ConversationStore


class PageServices(ActionServices, Protocol):
    """What the page uses of the object graph the composition root builds (serving.assistant)."""

    quotas: Quotas
    conversations: ConversationStore

    def facets(self, identity: Identity) -> dict[str, list[str]]: ...

    def status(self, identity: Identity) -> str: ...

    def ingest_upload(
        self, paths: list[Path], collection: str, identity: Identity, limit_key: str | None = None
    ) -> str: ...


def who(request: gr.Request | None) -> Identity:
    """The identity the authentication gate (serving.access.auth.AuthGate, in front of the page's routes) resolved
    for this request and left in its state. The page never authenticates again; a request the gate did not vouch
    for is refused, never answered as someone else."""
    identity = getattr(getattr(request, "state", None), "identity", None) if request is not None else None
    if not isinstance(identity, Identity):
        raise gr.Error("your sign-in has expired; reload the page to sign in again")
    return identity


def limit_key(identity: Identity, request: gr.Request | None) -> str:
    """Whose rate limit an answer counts against: the signed-in user's, or the client address's for `local`."""
    return identity.limit_key_from(getattr(getattr(request, "client", None), "host", None))
