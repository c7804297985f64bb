"""The Microsoft Teams door: the Bot Framework posts each activity to POST /teams/messages; once its token is
checked (serving.doors.teams.tokens), the Microsoft 365 Agents SDK's adapter runs the turn (serving.doors.teams.bot)
and replies through the activity's serviceUrl with the bot's own token.

By hand here: the route itself, because the SDK's `start_agent_process` responds only once the turn is over, and an
answer can take longer than the Bot Framework waits for that response (about 15 s); so a message is answered in the
background (202 at once, the reply posted through the connector when ready) with the SDK's
`CloudAdapter.process_activity`. Invokes (Teams' feedback buttons), whose response carries their result, go
through the SDK's `CloudAdapter.process` as they come.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from microsoft_agents.activity import Activity, ActivityTypes
from microsoft_agents.hosting.core import AgentAuthConfiguration, ClaimsIdentity, ConnectionManager, TurnContext
from microsoft_agents.hosting.fastapi import CloudAdapter
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from configs.errors import ConfigError
from configs.settings import TeamsSettings
from serving.doors.core import DoorServices, Mounted
from serving.doors.teams.bot import TeamsBot
from serving.doors.teams.tokens import ClientCredentials, IncomingTokens, KeysUnavailable, Refused, token_url

logger = logging.getLogger(__name__)

PATH = "/teams/messages"


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": {"message": message}}, status_code=status)


class Endpoint:
    """POST /teams/messages: checks the token, then hands the activity to the SDK."""

    def __init__(self, settings: TeamsSettings, bot: TeamsBot) -> None:
        secret = settings.app_password.get_secret_value() if settings.app_password else None
        config = AgentAuthConfiguration(client_id=settings.app_id, tenant_id=settings.tenant_id, client_secret=secret)
        provider = ClientCredentials(config, token_url(settings))
        connections = ConnectionManager(lambda _config: provider, {"SERVICE_CONNECTION": config})
        self.adapter = CloudAdapter(connection_manager=connections)
        self.adapter.on_turn_error = self._turn_failed  # the SDK's default posts the exception's text to the user
        self.agent = bot.application(connections)
        self.tokens = IncomingTokens(settings)
        self._running: set[asyncio.Task[None]] = set()

    async def messages(self, request: Request) -> Response:
        """202 once the activity is accepted (its answer follows through the connector); 401 for a request whose
        token does not hold, before anything of it is acted on."""
        if not request.headers.get("authorization", "").lower().startswith("bearer "):
            return _error(401, "send the Bot Framework's token as 'Authorization: Bearer <token>'")
        try:
            activity = Activity.model_validate(await request.json())
        except (ValueError, ValidationError):
            return _error(400, "the body is not a Bot Framework activity (JSON)")
        if not activity.type or not activity.conversation or not activity.conversation.id or not activity.service_url:
            return _error(400, "an activity needs a type, a conversation id and a serviceUrl")
        channel = activity.channel_id.channel if activity.channel_id else ""
        try:
            claims = await self.tokens.claims(request.headers.get("authorization"), activity.service_url, channel or "")
        except Refused as exc:
            logger.warning("Teams: refused an activity: %s", exc)
            return _error(401, "the token does not prove this request comes from the Bot Framework for this bot")
        except KeysUnavailable as exc:
            logger.error("Teams: %s", exc)
            return _error(503, "the Bot Framework's signing keys cannot be read just now; try again")
        if activity.type == ActivityTypes.invoke:
            request.state.claims_identity = claims
            return await self.adapter.process(request, self.agent) or Response(status_code=200)
        task = asyncio.create_task(self._turn(claims, activity))
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return Response(status_code=202)

    async def _turn(self, claims: ClaimsIdentity, activity: Activity) -> None:
        try:
            await self.adapter.process_activity(claims, activity, self.agent.on_turn)
        except Exception:
            logger.exception("Teams: the %s activity in %s failed", activity.type, activity.conversation.id)

    async def _turn_failed(self, context: TurnContext, error: Exception) -> None:
        logger.error("Teams: the %s activity failed", context.activity.type, exc_info=error)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """While the server runs; at shutdown, turns still answering are cancelled."""
        try:
            yield
        finally:
            for task in list(self._running):
                task.cancel()
            await asyncio.gather(*self._running, return_exceptions=True)


def mount(app: Any, assistant: DoorServices) -> Mounted | None:
    """POST /teams/messages, once teams.app_id is set (and the bot's password, KB_TEAMS__APP_PASSWORD)."""
    settings = assistant.settings.teams
    if not settings.app_id:
        return None
    if settings.app_password is None:
        raise ConfigError(
            "teams.app_id is set but not the bot's client secret: set KB_TEAMS__APP_PASSWORD to the secret of the "
            "Entra ID app registration (or unset teams.app_id to turn the Teams door off)"
        )
    endpoint = Endpoint(settings, TeamsBot(assistant))
    app.add_api_route(PATH, endpoint.messages, methods=["POST"], include_in_schema=False)
    return Mounted("teams", (PATH,), endpoint.running)
