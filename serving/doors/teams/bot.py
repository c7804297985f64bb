"""The Teams bot's turns, as Microsoft 365 Agents SDK routes: a message is answered through the door (as the asker,
within what everyone in the conversation may read), a reaction or Teams' own feedback buttons rate the answer.

Who asks comes from the connector (the member's UPN or e-mail, through the activity's serviceUrl), never from the
activity's own fields, which name a person but do not prove it; `person` maps the address to groups.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

from microsoft_agents.activity import Activity, ActivityTypes, ChannelAccount, InvokeResponse
from microsoft_agents.activity.teams import TeamsChannelAccount
from microsoft_agents.hosting.core import AgentApplication, TurnContext, TurnState
from microsoft_agents.hosting.core.authorization import Connections
from microsoft_agents.hosting.core.connector import ConnectorClientBase
from microsoft_agents.hosting.core.storage import MemoryStorage

from configs.errors import KBError
from retrieval.filters import Scope
from serving.access.identity import Identity
from serving.access.quotas import OverLimit
from serving.doors.core import Door, DoorServices, person, refused
from serving.doors.teams.replies import MAX_REPLIES, Bounded, Conversations, Sent, Turn, question_text, render

logger = logging.getLogger(__name__)

HELP = "Ask me a question about the knowledge base, for example: How do I reset my VPN password?"
FAILED = "Sorry, something went wrong while answering; the administrator finds the details in the server log."
NO_MEMBERS = "Sorry, I could not find out who is in this conversation, so I cannot tell what I may answer from here."
RATINGS = {"like": 1, "heart": 1, "+1": 1, "dislike": -1, "sad": -1, "angry": -1}  # reactions that rate a reply


@dataclass(frozen=True)
class Audience:
    """Who asked (None: a person the mapping refuses) and what the answer may draw on: in a personal chat the
    asker's collections, in a group chat or channel those every member may read."""

    asker: Identity | None
    asker_name: str
    scope: Scope
    unknown: tuple[str, ...] = ()  # members the mapping refuses: nothing can be answered to all of them


def common(scopes: list[Scope]) -> Scope:
    """What every one of these readers may read."""
    shared: frozenset[str] | None = None
    for s in scopes:
        if s.collections is not None:
            shared = s.collections if shared is None else shared & s.collections
    return Scope(shared)


def _conversation(activity: Activity) -> str:
    """The conversation whose members are asked for: a channel thread's id without its ";messageid=" part."""
    return activity.conversation.id.split(";messageid=", 1)[0]


def _personal(activity: Activity) -> bool:
    return activity.conversation.conversation_type == "personal" and not activity.conversation.is_group


def _connector(context: TurnContext) -> ConnectorClientBase:
    """The connector client the adapter made for this activity's serviceUrl (with the bot's token)."""
    connector = context.services.get(ConnectorClientBase)  # type: ignore[type-abstract]
    assert connector is not None  # the adapter sets one for every activity it receives
    return connector


def _teams_account(account: ChannelAccount) -> TeamsChannelAccount:
    return TeamsChannelAccount.model_validate(account.model_dump(by_alias=True, exclude_none=True))


class TeamsBot:
    """The door's turn handlers and what they remember (recent turns per conversation, the replies to rate)."""

    def __init__(self, services: DoorServices) -> None:
        self.services = services
        self.door = Door(services, "teams")
        self.conversations = Conversations()
        self.sent: Bounded[str, Sent] = Bounded(MAX_REPLIES)

    def application(self, connections: Connections) -> AgentApplication[TurnState]:
        """The SDK application routing this bot's activities (state lives here, so turns keep none in storage)."""
        app = AgentApplication[TurnState](
            storage=MemoryStorage(), connection_manager=connections, turn_state_factory=TurnState
        )
        app.activity(ActivityTypes.message)(self.on_message)
        app.message_reaction("reactionsAdded")(self.on_reaction)
        app.invoke("message/submitAction")(self.on_feedback)
        app.error(self.failed)
        return app

    def _person(self, account: TeamsChannelAccount) -> Identity | None:
        """The identity of a member record the connector gave, mapped by its user principal name (the sign-in
        name, which no one can give an account unless they own the address), else its e-mail (the directory's
        `mail`, which a tenant's admin sets freely: another tenant's could name one of ours). A member of another
        tenant is no one here (None). Never the machine's `local` user: someone the mapping does not know reads
        nothing, whether or not authentication is on."""
        s = self.services
        tenant = s.settings.teams.tenant_id or ""
        if account.tenant_id and account.tenant_id.strip().lower() != tenant.strip().lower():
            logger.warning("Teams: member %s belongs to tenant %s, not teams.tenant_id", account.id, account.tenant_id)
            return None
        address = account.user_principal_name or account.email
        return person(s.settings, s.authenticator.keys, True, address, account.name)  # True: never `local`

    async def _member(self, context: TurnContext, account: ChannelAccount) -> TeamsChannelAccount:
        member = await _connector(context).conversations.get_conversation_member(
            _conversation(context.activity), account.id
        )
        return _teams_account(member)

    async def audience(self, context: TurnContext) -> Audience:
        """Who is asking and what may be answered here, from the connector's member records."""
        activity = context.activity
        if _personal(activity):
            asker = await self._member(context, activity.from_property)
            identity = await asyncio.to_thread(self._person, asker)
            scope = self.door.scope(identity) if identity is not None else Scope(frozenset())
            return Audience(identity, asker.name or asker.id or "you", scope)
        listed = await _connector(context).conversations.get_conversation_members(_conversation(activity))
        bot = activity.recipient.id if activity.recipient else None
        members = [_teams_account(m) for m in listed if m.id != bot]
        listed_asker = next((m for m in members if m.id == activity.from_property.id), None)
        if listed_asker is None:  # not listed (yet): asked for by id, and counted
            listed_asker = await self._member(context, activity.from_property)
            members.append(listed_asker)
        asker = listed_asker
        people = await asyncio.to_thread(lambda: [(m, self._person(m)) for m in members])
        identity = next(i for m, i in people if m.id == asker.id)
        unknown = tuple(m.name or m.id for m, i in people if i is None and m.id != asker.id)
        scope = common([self.door.scope(i) for _, i in people if i is not None]) if not unknown else Scope(frozenset())
        return Audience(identity, asker.name or asker.id or "you", scope, unknown)

    async def on_message(self, context: TurnContext, state: TurnState) -> None:
        """A question: answered in the same conversation (thread), its sources listed."""
        activity = context.activity
        question = question_text(activity.text, activity.recipient.name if activity.recipient else None)
        if not question:
            await context.send_activity(HELP)
            return
        try:
            audience = await self.audience(context)
        except Exception:
            logger.exception("Teams: could not read the members of conversation %s", activity.conversation.id)
            await context.send_activity(NO_MEMBERS)
            return
        if audience.asker is None:
            await context.send_activity(str(refused(audience.asker_name)))
            return
        if audience.unknown:
            names = ", ".join(audience.unknown) + (" is" if len(audience.unknown) == 1 else " are")
            await context.send_activity(
                f"In a shared conversation I answer only from what every member may read, and {names} not known to "
                "the knowledge base; ask me in a personal chat, or ask an administrator to add them."
            )
            return
        await self._answer(context, audience.asker, question, audience.scope)

    async def _answer(self, context: TurnContext, asker: Identity, question: str, scope: Scope) -> None:
        activity = context.activity
        conversation = activity.conversation.id
        history = self.conversations.history(conversation, scope)
        try:
            asked = await asyncio.to_thread(self.door.ask, asker, question, history, None, scope, conversation)
        except OverLimit as exc:
            await context.send_activity(f"Sorry, too many requests: {exc.message}.")
            return
        except KBError as exc:
            await context.send_activity(f"Sorry, I cannot answer that: {exc}")
            return
        public_url = self.services.settings.auth.public_url
        reply = Activity(
            type=ActivityTypes.message,
            text=render(asked.answer, public_url),
            text_format="markdown",
            channel_data={"feedbackLoop": {"type": "default"}},  # Teams' thumbs up/down under the reply
        )
        sent = await context.send_activity(reply)
        self.conversations.add(conversation, Turn(question, asked.answer.text, scope))
        if sent is not None and sent.id:
            self.sent.put(sent.id, Sent(_conversation(activity), asked.answer, asked.audit_seq))

    async def on_reaction(self, context: TurnContext, state: TurnState) -> None:
        """A reaction to one of the bot's answers: like or heart rates it up, dislike, sad or angry down."""
        reactions = context.activity.reactions_added or []
        rating = next((RATINGS[r.type] for r in reactions if r.type in RATINGS), None)
        await self._rate(context, rating, "")

    async def on_feedback(self, context: TurnContext, state: TurnState) -> None:
        """Teams' feedback buttons under a reply (message/submitAction): a like or dislike and what the person
        wrote; the invoke is answered 200 whatever it held, as Teams expects."""
        value: Any = context.activity.value if isinstance(context.activity.value, dict) else {}
        action = value.get("actionValue") if value.get("actionName") == "feedback" else None
        if isinstance(action, dict):
            rating = {"like": 1, "dislike": -1}.get(str(action.get("reaction")))
            try:
                details = json.loads(action.get("feedback") or "{}")
            except (TypeError, ValueError):
                details = {}
            comment = str(details.get("feedbackText", "")) if isinstance(details, dict) else ""
            await self._rate(context, rating, comment)
        await context.send_activity(Activity(type=ActivityTypes.invoke_response, value=InvokeResponse(status=200)))

    async def _rate(self, context: TurnContext, rating: int | None, comment: str) -> None:
        """Feedback on a reply the bot still remembers, given in the conversation it was posted in, from the
        person the connector says gave it (the asker, or another member the mapping knows): the activity's own
        `from` names a person but does not prove it."""
        activity = context.activity
        sent = self.sent.get(activity.reply_to_id) if activity.reply_to_id else None
        if sent is None or rating is None:
            return
        if _conversation(activity) != sent.conversation:
            logger.warning("Teams: ignored a rating of reply %s from another conversation", activity.reply_to_id)
            return
        try:
            member = await self._member(context, activity.from_property)
        except Exception:
            logger.warning("Teams: ignored a rating by %s, whom the connector does not list", activity.from_property.id)
            return
        rater = await asyncio.to_thread(self._person, member)
        if rater is not None:
            await asyncio.to_thread(self.door.rated, rater, sent.answer, rating, sent.audit_seq, comment)

    async def failed(self, context: TurnContext, error: Exception) -> None:
        """A turn that failed: the details to the log, a short apology to a person who asked something."""
        logger.error("Teams: the %s activity failed", context.activity.type, exc_info=error)
        if context.activity.type == ActivityTypes.message:
            await context.send_activity(FAILED)
