"""The Microsoft Teams door: the Bot Framework posts each activity to POST /teams/messages; once its token is
checked (serving.doors.teams.tokens), the Microsoft 365 Agents SDK's adapter runs the turn (serving.doors.teams.bot)
and replies through the activity's serviceUrl with the bot's own token.

By hand here: the route itself, because the SDK's `start_agent_process` responds only once the turn is over, and an
answer can take longer than the Bot Framework waits for that response (about 15 s); so a message is answered in the
background (202 at once, the reply posted through the connector when ready) with the SDK's
`CloudAdapter.process_activity`. Invokes (Teams' feedback buttons), whose response carries their result, go
through the same call as they come, their invoke response returned. And the body is read here, after the token
is checked and only up to serving.max_request_kb, where `CloudAdapter.process` would read and validate all of it.
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
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from configs.errors import ConfigError
from configs.settings import TeamsSettings
from serving.doors.core import DoorServices, Mounted
from serving.doors.teams.bot import TeamsBot
from serving.doors.teams.tokens import (
    ClientCredentials,
    IncomingTokens,
    KeysUnavailable,
    Refused,
    Verified,
    token_url,
)

logger = logging.getLogger(__name__)

PATH = "/teams/messages"
TEAMS_CHANNEL = "msteams"  # other channels (Direct Line, Web Chat) let the client write who it is


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": {"message": message}}, status_code=status)


def _too_large(limit: int) -> JSONResponse:
    return _error(413, f"an activity may be at most {limit:,} bytes (serving.max_request_kb)")


def _declared(request: Request) -> int:
    """The body's Content-Length (0 when not given: a chunked body is counted as it is read)."""
    value = request.headers.get("content-length", "0").strip()
    return int(value) if value.isdigit() else 0


async def _body(request: Request, limit: int) -> bytes | None:
    """The body, read only up to `limit` bytes (None beyond: the rest is never buffered)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _tenant(activity: Activity) -> str | None:
    """The tenant Teams says the activity comes from (channelData.tenant.id)."""
    data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    tenant = data.get("tenant")
    found = tenant.get("id") if isinstance(tenant, dict) else None
    return found if isinstance(found, str) else None


def _same_tenant(found: object, configured: str | None) -> bool:
    return isinstance(found, str) and bool(configured) and found.strip().lower() == (configured or "").strip().lower()


class Endpoint:
    """POST /teams/messages: checks the token, then hands the activity to the SDK."""

    def __init__(self, settings: TeamsSettings, bot: TeamsBot, max_bytes: int) -> None:
        secret = settings.app_password.get_secret_value() if settings.app_password else None
        config = AgentAuthConfiguration(client_id=settings.app_id, tenant_id=settings.tenant_id, client_secret=secret)
        provider = ClientCredentials(config, token_url(settings))
        connections = ConnectionManager(lambda _config: provider, {"SERVICE_CONNECTION": config})
        self.adapter = CloudAdapter(connection_manager=connections)
        self.adapter.on_turn_error = self._turn_failed  # the SDK's default posts the exception's text to the user
        self.agent = bot.application(connections)
        self.tokens = IncomingTokens(settings)
        self.tenant_id = settings.tenant_id
        self.max_bytes = max_bytes
        self._running: set[asyncio.Task[None]] = set()

    async def messages(self, request: Request) -> Response:
        """202 once the activity is accepted (its answer follows through the connector). Nothing of the body is
        read before the token's signature, issuer, audience and expiry hold (401), nor more of it than
        serving.max_request_kb (413): an outsider's request costs no parsing."""
        authorization = request.headers.get("authorization", "")
        if not authorization.lower().startswith("bearer "):
            return _error(401, "send the Bot Framework's token as 'Authorization: Bearer <token>'")
        if _declared(request) > self.max_bytes:
            return _too_large(self.max_bytes)
        try:
            verified = await self.tokens.verify(authorization)
        except Refused as exc:
            logger.warning("Teams: refused an activity: %s", exc)
            return _error(401, "the token does not prove this request comes from the Bot Framework for this bot")
        except KeysUnavailable as exc:
            logger.error("Teams: %s", exc)
            return _error(503, "the Bot Framework's signing keys cannot be read just now; try again")
        body = await _body(request, self.max_bytes)
        if body is None:
            return _too_large(self.max_bytes)
        try:
            activity = await asyncio.to_thread(Activity.model_validate_json, body)
        except ValueError:  # pydantic's ValidationError is one
            return _error(400, "the body is not a Bot Framework activity (JSON)")
        if not activity.type or not activity.conversation or not activity.conversation.id or not activity.service_url:
            return _error(400, "an activity needs a type, a conversation id and a serviceUrl")
        claims = self._admitted(verified, activity)
        if isinstance(claims, Response):
            return claims
        if activity.type == ActivityTypes.invoke:  # its response carries the result (Teams' feedback buttons)
            return await self._invoke(claims, activity)
        task = asyncio.create_task(self._turn(claims, activity))
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return Response(status_code=202)

    def _admitted(self, verified: Verified, activity: Activity) -> ClaimsIdentity | Response:
        """The token's claims for an activity from Teams (channel msteams) in this bot's tenant (teams.tenant_id,
        in channelData and the token's `tid` when it has one), else the refusal: people are mapped by e-mail within
        one organisation, and only Teams' member records prove who they are."""
        channel = activity.channel_id.channel if activity.channel_id else ""
        if channel != TEAMS_CHANNEL:
            logger.warning("Teams: refused an activity from channel %r (only %s is served)", channel, TEAMS_CHANNEL)
            return _error(401, f"this bot serves the Microsoft Teams channel ({TEAMS_CHANNEL}) only")
        try:
            claims = self.tokens.holds(verified, activity.service_url or "", channel)
        except Refused as exc:
            logger.warning("Teams: refused an activity: %s", exc)
            return _error(401, "the token does not prove this request comes from the Bot Framework for this bot")
        tenant, tid = _tenant(activity), verified.claims.get("tid")
        if not _same_tenant(tenant, self.tenant_id) or (tid is not None and not _same_tenant(tid, self.tenant_id)):
            logger.warning("Teams: refused an activity from tenant %s (token: %s), not teams.tenant_id", tenant, tid)
            return _error(403, "this bot answers its own organisation only (teams.tenant_id)")
        return claims

    async def _invoke(self, claims: ClaimsIdentity, activity: Activity) -> Response:
        """An invoke's turn, as the SDK's `CloudAdapter.process` runs it: its invoke response, else 501."""
        invoked = await self.adapter.process_activity(claims, activity, self.agent.on_turn)
        if invoked is None:
            return Response(status_code=501)
        if invoked.body is None:
            return Response(status_code=invoked.status)
        return JSONResponse(invoked.body, status_code=invoked.status)

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
    """POST /teams/messages, once teams.app_id is set (and teams.tenant_id, and the bot's password,
    KB_TEAMS__APP_PASSWORD)."""
    settings = assistant.settings.teams
    if not settings.app_id:
        return None
    if settings.app_password is None:
        raise ConfigError(
            "teams.app_id is set but not the bot's client secret: set KB_TEAMS__APP_PASSWORD to the secret of the "
            "Entra ID app registration (or unset teams.app_id to turn the Teams door off)"
        )
    if not settings.tenant_id:
        raise ConfigError(
            "teams.app_id is set but not teams.tenant_id: set it to the Directory (tenant) ID of your organisation "
            "(Azure portal > Microsoft Entra ID > Overview); people are mapped by e-mail within that one tenant"
        )
    endpoint = Endpoint(settings, TeamsBot(assistant), assistant.settings.serving.max_request_kb * 1024)
    app.add_api_route(PATH, endpoint.messages, methods=["POST"], include_in_schema=False)
    return Mounted("teams", (PATH,), endpoint.running)
