"""Who a Slack user is to the knowledge base: their verified e-mail (users.info) mapped by serving.doors.core.person,
and what every member of a channel may read (the intersection of their scopes)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import anyio
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from retrieval.filters import Scope
from serving.access.identity import Identity
from serving.doors.core import Door, person
from serving.doors.slack.memory import Bounded

logger = logging.getLogger(__name__)

NOTHING = Scope(frozenset())
SLACKBOT = "USLACKBOT"  # Slack's own helper: a member of every channel, never a reader
BATCH = 20  # users.info calls in flight at once while a channel's members are looked up


@dataclass(frozen=True)
class Profile:
    """What Slack says of a user that matters here."""

    email: str | None  # only an address Slack does not mark unconfirmed
    name: str | None
    human: bool  # not a bot or an app


def narrower(a: Scope, b: Scope) -> Scope:
    """What both scopes allow."""
    if a.collections is None:
        return b
    if b.collections is None:
        return a
    return Scope(a.collections & b.collections)


class Directory:
    """Slack users as identities. Profiles are cached for a few minutes (a big channel is looked up once, not per
    question); the mapping itself (doors.people, API keys) is read fresh every time, so a revoked key stops at once."""

    def __init__(self, door: Door, client: AsyncWebClient, ttl_s: float = 300.0) -> None:
        self.door = door
        self.client = client
        self._profiles: Bounded[str, Profile] = Bounded(20_000, ttl_s)
        self._told = False  # about a person Slack shows no e-mail for (said once)

    async def profile(self, user_id: str) -> Profile:
        """users.info: the e-mail needs the users:read.email scope; a user Slack cannot show is nobody known."""
        cached = self._profiles.get(user_id)
        if cached is not None:
            return cached
        try:
            user = (await self.client.users_info(user=user_id))["user"]
        except SlackApiError as exc:
            if exc.response.get("error") != "user_not_found":
                raise
            return Profile(None, None, True)  # a person nobody can name: not known to the mapping either
        info = user.get("profile") or {}
        email = info.get("email") if user.get("is_email_confirmed") is not False else None
        name = info.get("real_name") or info.get("display_name") or user.get("name")
        human = not (user.get("is_bot") or user.get("is_app_user") or user_id == SLACKBOT)
        found = Profile(email or None, name or None, human)
        if human and not found.email and not self._told:
            self._told = True  # without the scope every person is unknown: say why once, not per question
            logger.warning(
                "Slack shows no confirmed e-mail for user %s, who is therefore unknown: the Slack app needs the "
                "users:read.email scope (docs-snippets/slack.md)",
                user_id,
            )
        self._profiles.put(user_id, found)
        return found

    async def identity(self, user_id: str) -> tuple[Identity | None, Profile]:
        """The user's identity (None: unknown and doors.unmapped is refuse), with their profile."""
        found = await self.profile(user_id)
        services = self.door.assistant

        def mapped() -> Identity | None:  # the key store is a database: off the event loop
            auth = services.authenticator
            return person(services.settings, auth.keys, auth.required(), found.email, found.name)

        return await anyio.to_thread.run_sync(mapped), found

    async def members(self, channel: str) -> list[str]:
        """conversations.members, every page (channels:read, groups:read, mpim:read)."""
        members: list[str] = []
        cursor = None
        while True:
            page = await self.client.conversations_members(channel=channel, limit=1000, cursor=cursor)
            members += page.get("members") or []
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return members

    async def common_scope(self, channel: str, asker: Identity, bot_user_id: str | None) -> Scope:
        """What the asker and every other person in the channel may read. A person the mapping does not know reads
        what they would get asking themselves: nothing when doors.unmapped is refuse, else the anonymous scope
        (nothing once authentication is on). Bots and apps are not readers and are left out."""
        scope = self.door.scope(asker)
        others = [m for m in await self.members(channel) if m not in (bot_user_id, SLACKBOT)]
        for start in range(0, len(others), BATCH):
            if scope.collections == frozenset():
                break  # nothing left to narrow
            found = await asyncio.gather(*(self.identity(m) for m in others[start : start + BATCH]))
            for identity, profile in found:
                if profile.human:
                    scope = narrower(scope, self.door.scope(identity) if identity is not None else NOTHING)
        return scope
