"""What the page's handlers work with: the services of the object graph (PageServices) and the identity the
authentication gate resolved for the request."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import gradio as gr

from configs.errors import KBError
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


SIGNED_OUT = "your sign-in has expired; reload the page to sign in again"


def who(request: gr.Request | None) -> Identity:
    """The identity the authentication gate (serving.access.auth.AuthGate, in front of the page's routes) resolved
    for this request and left in its state, while it is still signed in. An event runs when Gradio's queue reaches
    it, maybe long after the request that queued it, so the gate's own check (also in the state) is asked again
    now: an event of a session signed out or revoked meanwhile, or of a revoked key, is refused before it does
    anything. A request the gate did not vouch for is refused, never answered as someone else."""
    state = getattr(request, "state", None) if request is not None else None
    identity, signed_in = getattr(state, "identity", None), getattr(state, "signed_in", None)
    if not isinstance(identity, Identity) or not callable(signed_in):
        raise gr.Error(SIGNED_OUT)
    try:
        still = signed_in()
    except KBError as exc:  # the key store or the sign-in provider is down: say so, act for nobody
        raise gr.Error(str(exc)) from exc
    if still is not True:
        raise gr.Error(SIGNED_OUT)
    return identity


def limit_key(identity: Identity, request: gr.Request | None) -> str:
    """Whose rate limit an answer counts against: the signed-in user's, or the client address's for `local`."""
    return identity.limit_key_from(getattr(getattr(request, "client", None), "host", None))
