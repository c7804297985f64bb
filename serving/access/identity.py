"""Who is asking, and what they may see: one identity model for the page, every /v1 route and file downloads."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from configs.settings import AccessSettings
from retrieval.filters import EVERYTHING, Scope

Via = Literal["local", "key", "oidc", "door"]  # door: a person a chat platform vouches for (serving/doors)
ALL = "*"
OIDC_PREFIX = "oidc:"  # user ids of people signed in through the OpenID provider; no API key user is named so


@dataclass(frozen=True)
class Identity:
    """A signed-in person or an API key's owner; `local` is the one person on this machine when no
    authentication is configured."""

    user: str  # the stable id everything is keyed by: a key's user name, or `oidc:<issuer hash>:<sub>`
    groups: frozenset[str]
    via: Via
    key_id: str | None = None  # the API key that authenticated the request (or signed the session in)
    name: str | None = None  # how the page names the person (an OIDC username); shown, never used as a key

    @property
    def display(self) -> str:
        """The name to show: the provider's username or verified e-mail, else the user id."""
        return self.name or self.user

    @property
    def limit_key(self) -> str:
        """What rate limits count against."""
        return f"user:{self.user}"

    def limit_key_from(self, client_host: str | None) -> str:
        """Whose rate limit a request counts against: the signed-in user's, or without authentication (`local`)
        the client address's."""
        return f"ip:{client_host or 'unknown'}" if self.via == "local" else self.limit_key


LOCAL = Identity("local", frozenset(), "local")


class Access:
    """Group -> collection rules (access.groups for reading, access.upload for uploading). Anyone is `local`
    only when authentication is off, and then may read and upload everything."""

    def __init__(self, settings: AccessSettings) -> None:
        self._read = {g: frozenset(c) for g, c in settings.groups.items()}
        self._upload = {g: frozenset(c) for g, c in settings.upload.items()}

    @staticmethod
    def _scope(rules: dict[str, frozenset[str]], identity: Identity) -> Scope:
        if identity.via == "local":
            return EVERYTHING
        granted: set[str] = set()
        for group in identity.groups:
            collections = rules.get(group, frozenset())
            if ALL in collections:
                return EVERYTHING
            granted |= collections
        return Scope(frozenset(granted))

    def read_scope(self, identity: Identity) -> Scope:
        """The collections the identity may search, be answered from, filter on and download from."""
        return self._scope(self._read, identity)

    def upload_scope(self, identity: Identity) -> Scope:
        """The collections the identity may add files to from the page."""
        return self._scope(self._upload, identity)


def parse_groups(text: str | Iterable[str]) -> frozenset[str]:
    """ "g1,g2" or ["g1", "g2"] -> a set of non-empty group names."""
    items = text.split(",") if isinstance(text, str) else text
    return frozenset(g.strip() for g in items if g and g.strip())
