"""The Bolt app that answers Slack: mentions in channels and direct messages, answered in their thread; thumbs
reactions on an answer become feedback."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

import anyio
from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from configs.errors import KBError
from configs.settings import SlackSettings
from retrieval.filters import Scope
from serving.access.identity import Identity
from serving.access.quotas import OverLimit
from serving.doors.core import Asked, Door, refused
from serving.doors.slack.memory import Bounded, Given, Seen, Threads
from serving.doors.slack.people import Directory
from serving.doors.slack.text import FAILED, PLACEHOLDER, TOO_MANY, answer_text, escape, question_text

logger = logging.getLogger(__name__)

RATINGS = {"+1": 1, "thumbsup": 1, "-1": -1, "thumbsdown": -1}
NO_COMMON = (
    "Nothing in the knowledge base may be read by everyone in this channel, so I answer nothing here: ask me in a "
    "direct message."
)


@dataclass(frozen=True)
class Place:
    """Where a question was asked and its answer goes."""

    channel: str
    thread: str  # the thread's ts: the question's own ts when it started the thread
    asker: str
    private: bool  # answered to the asker alone (chat.postEphemeral)

    @property
    def conversation(self) -> tuple[str, ...]:
        """A thread is one conversation; answered privately, one per asker."""
        return (self.channel, self.thread, self.asker) if self.private else (self.channel, self.thread)


class SlackBot:
    """Slack's events in, answers out through the door. Bolt checks each request's signature and timestamp,
    answers url_verification and acknowledges an event at once; the answer follows in a task of its own."""

    def __init__(self, door: Door, settings: SlackSettings, public_url: str | None) -> None:
        assert settings.bot_token is not None  # mount() checks
        base = settings.api_url if settings.api_url.endswith("/") else settings.api_url + "/"
        self.client = AsyncWebClient(token=settings.bot_token.get_secret_value(), base_url=base)
        secret = settings.signing_secret.get_secret_value() if settings.signing_secret else ""
        self.app = AsyncApp(client=self.client, signing_secret=secret, name="kb-slack")
        self.door = door
        self.private_in_channels = settings.channel_answers == "private"
        self.placeholder_after_s = settings.placeholder_after_s
        self.public_url = public_url
        self.people = Directory(door, self.client)
        self.events = Seen()  # event ids: a retry (X-Slack-Retry-Num) of an event already taken is only acknowledged
        self.messages = Seen()  # (channel, ts): a message reaching us as both app_mention and message.im
        self.threads = Threads()
        self.given: Bounded[tuple[str, str], Given] = Bounded(5_000)
        self._tasks: set[asyncio.Task[None]] = set()
        self.app.middleware(self._once)
        self.app.event("app_mention")(self._mention)
        self.app.event("message")(self._message)
        self.app.event("reaction_added")(self._reaction)

    async def _once(self, body: dict[str, Any], next_: Callable[[], Awaitable[None]]) -> BoltResponse | None:
        event_id = body.get("event_id")
        if isinstance(event_id, str) and not self.events.first(event_id):
            return BoltResponse(status=200, body="")
        await next_()
        return None

    async def _mention(self, event: dict[str, Any], context: AsyncBoltContext) -> None:
        if not event.get("bot_id") and not event.get("subtype"):  # people only: two bots must not talk in a loop
            self._spawn(self._question(event, context.bot_user_id))

    async def _message(self, event: dict[str, Any], context: AsyncBoltContext) -> None:
        # Direct messages only, and only what a person wrote (no edits, joins or bots' posts)
        if event.get("channel_type") == "im" and not event.get("subtype") and not event.get("bot_id"):
            self._spawn(self._question(event, context.bot_user_id))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(_logged(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _question(self, event: dict[str, Any], bot_user_id: str | None) -> None:
        channel, user, ts = event.get("channel"), event.get("user"), event.get("ts")
        if not (channel and user and ts) or not self.messages.first((channel, ts)):
            return
        dm = event.get("channel_type") == "im" or channel.startswith("D")
        place = Place(channel, event.get("thread_ts") or ts, user, not dm and self.private_in_channels)
        identity, profile = await self.people.identity(user)
        if identity is None:  # said to the asker alone: a channel need not learn their address
            alone = Place(place.channel, place.thread, place.asker, not dm)
            await self._post(alone, escape(str(refused(profile.email or profile.name or "This Slack user"))))
            return
        if dm or place.private:
            scope = self.door.scope(identity)
        else:
            scope = await self.people.common_scope(channel, identity, bot_user_id)
            if scope.collections == frozenset():
                await self._post(place, NO_COMMON)
                return
        await self._answer(place, identity, question_text(event.get("text") or "", bot_user_id), scope)

    async def _answer(self, place: Place, identity: Identity, question: str, scope: Scope) -> None:
        """The answer in the thread (chat.postMessage with the question's thread_ts); one that takes longer than
        slack.placeholder_after_s is announced by a placeholder that the answer then replaces (chat.update).
        Privately: the answer alone, since an ephemeral message cannot be edited."""
        history = self.threads.history(place.conversation)
        ask = partial(self.door.ask, identity, question, history, None, scope, place.thread)
        work = asyncio.ensure_future(self._ask(ask))
        shown = None
        if not place.private and not (await asyncio.wait({work}, timeout=self.placeholder_after_s))[0]:
            shown = await self._post(place, PLACEHOLDER)
        text, asked = await work
        posted = await self._post(place, text, shown)
        if asked is not None:
            self.threads.add(place.conversation, question, asked.answer.text)
            if posted is not None:
                self.given.put((place.channel, posted), Given(place.asker, identity, asked.answer, asked.audit_seq))

    async def _ask(self, ask: Callable[[], Asked]) -> tuple[str, Asked | None]:
        """The answer's text for Slack (or what went wrong, said so the asker knows what to do) and the answer."""
        try:
            asked = await anyio.to_thread.run_sync(ask)
            return answer_text(asked.answer, self.public_url), asked
        except OverLimit:
            return TOO_MANY, None
        except KBError as exc:  # an empty or over-long question, a store that cannot be reached: says what to do
            return escape(str(exc)), None
        except Exception:
            logger.exception("a Slack question could not be answered")
            return FAILED, None

    async def _post(self, place: Place, text: str, replacing: str | None = None) -> str | None:
        """Posts (or replaces) a message in the thread; returns its ts (None for an ephemeral one)."""
        if place.private:
            await self.client.chat_postEphemeral(
                channel=place.channel, user=place.asker, text=text, thread_ts=place.thread
            )
            return None
        # parse="none", link_names off: only the links the bot writes itself are links (chat.update would
        # otherwise parse the text as a client does, turning a document's "@channel" or URL into a ping or a link)
        if replacing is not None:
            await self.client.chat_update(
                channel=place.channel, ts=replacing, text=text, parse="none", link_names=False
            )
            return replacing
        posted = await self.client.chat_postMessage(
            channel=place.channel, thread_ts=place.thread, text=text, unfurl_links=False, unfurl_media=False,
            parse="none", link_names=False,
        )  # fmt: skip
        return str(posted["ts"])

    async def _reaction(self, event: dict[str, Any]) -> None:
        """A thumbs up or down from the person who asked, on the answer: feedback, recorded once per rating."""
        item = event.get("item") or {}
        rating = RATINGS.get(str(event.get("reaction", "")).split("::")[0])  # "+1::skin-tone-2" is a +1
        given = self.given.get((str(item.get("channel")), str(item.get("ts"))))
        if rating is None or given is None or event.get("user") != given.asker or rating in given.ratings:
            return
        given.ratings.add(rating)
        rate = partial(self.door.rated, given.identity, given.answer, rating, given.audit_seq)
        await anyio.to_thread.run_sync(rate)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """While the server runs; at its end, answers in progress get a few seconds to be posted."""
        try:
            yield
        finally:
            if self._tasks:
                _, late = await asyncio.wait(set(self._tasks), timeout=10)
                for task in late:
                    task.cancel()

    @asynccontextmanager
    async def socket_mode(self, app_token: str) -> AsyncIterator[None]:
        """Slack's events over a WebSocket the server opens (no inbound requests). The connection is made in the
        background, so the server starts even while Slack cannot be reached (the client keeps trying)."""
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        handler = AsyncSocketModeHandler(self.app, app_token)
        connecting = asyncio.get_running_loop().create_task(handler.connect_async())
        try:
            async with self.running():
                yield
        finally:
            connecting.cancel()
            await handler.close_async()


async def _logged(work: Coroutine[Any, Any, None]) -> None:
    """Runs one question to its end; what stops it is logged (a refusal by Slack's Web API with what to check)."""
    try:
        await work
    except SlackApiError as exc:
        logger.warning(
            "Slack refused a call (%s): check the app's scopes and that it is in the channel (docs-snippets/slack.md)",
            exc.response.get("error"),
        )
    except Exception:
        logger.exception("a Slack question could not be answered")
