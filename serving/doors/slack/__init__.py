"""The Slack front door: a Slack app (slack_bolt) that answers mentions in channels and direct messages from the
knowledge base, through serving.doors.core.Door (same answer path, rate limits, audit with door "slack", PII
redaction and metrics as /v1).

How it decides, and why:
- Transport: the Events API at POST /slack/events (signing secret; Bolt checks the signature and the 5-minute
  timestamp window, answers url_verification and acknowledges at once, the answer follows in its own task), or
  Socket Mode when slack.app_token is set (no inbound requests: for a server Slack cannot reach). An event id
  is answered once, so Slack's retries (X-Slack-Retry-Num) are only acknowledged.
- Who asks: the Slack user's e-mail from users.info (unless Slack marks it unconfirmed), mapped by doors.people or
  an API key made for that address (serving.doors.core.person). Someone unknown is told so when doors.unmapped is
  refuse.
- What a channel answer may use (slack.channel_answers): "common" answers in the thread, for everyone to read,
  from only the collections every person in the channel may read (the intersection over conversations.members;
  someone the mapping does not know counts as reading what they would get asking themselves, so with
  doors.unmapped refuse one unknown member leaves nothing to answer from); "private" answers the asker alone
  (chat.postEphemeral) from their own collections. A direct message uses the asker's own collections. A channel
  answer never shows a reader what they could not read themselves.
- A thread is one conversation: its earlier questions and answers (kept in memory, the latest 10 turns) go in
  as history, with the thread's ts as the session.
- Feedback: a thumbs up or down on an answer from the person who asked it is recorded (Door.rated); other
  readers' reactions are not, since the answer was given to the asker's question within their collections.
  Ephemeral answers cannot carry reactions.
"""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr
from slack_sdk.signature import SignatureVerifier
from starlette.requests import Request
from starlette.responses import Response

from configs.errors import ConfigError
from serving.doors.core import Door, DoorServices, Mounted

PATH = "/slack/events"


def mount(app: Any, assistant: DoorServices) -> Mounted | None:
    """POST /slack/events (or a Socket Mode connection) once Slack is configured; None when it is not."""
    settings = assistant.settings.slack
    if settings.bot_token is None and settings.signing_secret is None and settings.app_token is None:
        return None
    if settings.bot_token is None:
        raise ConfigError("slack is half configured: set KB_SLACK__BOT_TOKEN (the app's xoxb- bot token) as well")
    blank = [name for name in ("bot_token", "signing_secret", "app_token") if _blank(getattr(settings, name))]
    if blank:
        raise ConfigError(
            f"slack.{blank[0]} is set but empty: set KB_SLACK__{blank[0].upper()} to its value, or unset it"
        )
    if settings.signing_secret is None and settings.app_token is None:
        raise ConfigError(
            "slack.bot_token is set but Slack's requests cannot be checked: set KB_SLACK__SIGNING_SECRET (Events API "
            "at /slack/events) or KB_SLACK__APP_TOKEN (Socket Mode)"
        )
    from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler

    from serving.doors.slack.bot import SlackBot

    bot = SlackBot(Door(assistant, "slack"), settings, assistant.settings.auth.public_url)
    if settings.app_token is not None:
        app_token = settings.app_token.get_secret_value()
        return Mounted("slack", (), lambda: bot.socket_mode(app_token))
    handler = AsyncSlackRequestHandler(bot.app)
    assert settings.signing_secret is not None  # checked above: no app token, so a signing secret
    verifier = SignatureVerifier(settings.signing_secret.get_secret_value())

    async def events(request: Request) -> Response:
        # The signature first, on the raw bytes (slack_sdk's verifier, the one Bolt uses): Bolt parses the body
        # before it checks, so a malformed unsigned body would otherwise cost a parse and end in a 500.
        body = await request.body()
        if not verifier.is_valid_request(body, dict(request.headers)):
            return Response('{"error": "invalid signature or timestamp"}', 401, media_type="application/json")
        return await handler.handle(request)

    app.add_api_route(PATH, events, methods=["POST"], include_in_schema=False)
    return Mounted("slack", (PATH,), bot.running)


def _blank(secret: SecretStr | None) -> bool:
    return secret is not None and not secret.get_secret_value().strip()
