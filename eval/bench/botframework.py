"""The Bot Framework's side of the Teams door, on loopback: a small HTTP server that publishes an OpenID metadata
document and its signing key (an RSA key made here), issues the bot its own token (client credentials), and is the
activities' serviceUrl (it records the replies posted to it and answers the member look-ups). The Teams tests and
`python -m eval bench-doors` use it."""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from eval.bench.loopback import free_port

KID = "bf-key-1"


def rsa_key() -> Any:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class BotFramework:
    """The Bot Framework's side, on loopback, for one bot (app id and secret; the token it hands the bot) and the
    people its connector knows (name -> member record)."""

    def __init__(self, app_id: str, secret: str, bot_token: str, members: dict[str, dict[str, Any]]) -> None:
        self.app_id, self.secret, self.bot_token, self.members = app_id, secret, bot_token, members
        self.key = rsa_key()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.metadata_url = f"{self.url}/v1/.well-known/openidconfiguration"
        self.issuer = f"{self.url}/issuer"  # not Microsoft's: the configured issuer is the one checked
        self.service_url = f"{self.url}/amer/"
        self.posted: list[dict[str, Any]] = []  # activities the bot posted: path, authorization, body
        self.rosters: dict[str, list[str]] = {}  # conversation id -> member names
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self))
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()

    def jwks(self) -> dict[str, Any]:
        public = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        endorsed = ["msteams", "directline", "webchat", "emulator"]  # as the Bot Framework's keys are
        return {"keys": [{**public, "kid": KID, "use": "sig", "alg": "RS256", "endorsements": endorsed}]}

    def token(self, key: Any = None, **overrides: Any) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": self.app_id,
            "nbf": now - 5,
            "exp": now + 600,
            "serviceurl": self.service_url,
        }
        claims.update(overrides)
        return jwt.encode(claims, key or self.key, algorithm="RS256", headers={"kid": KID})

    def chat(self, *members: str, kind: str = "personal") -> str:
        """A new conversation with these members; its id."""
        conversation = f"a:{uuid.uuid4().hex}" if kind == "personal" else f"19:{uuid.uuid4().hex}@thread.v2"
        self.rosters[conversation] = list(members)
        return conversation

    def replies_to(self, activity_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [p["body"] for p in self.posted if p["reply_to"] == activity_id and p["body"]["type"] == "message"]

    def wait_reply(self, activity_id: str, timeout: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            replies = self.replies_to(activity_id)
            if replies:
                return replies[0]
            time.sleep(0.1)
        raise AssertionError(f"no reply to {activity_id} within {timeout} s")


CONNECTOR = re.compile(r"^/amer/v3/conversations/([^/]+)/(activities|members)(?:/([^/]+))?$")


def _handler(bf: BotFramework) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _json(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("content-length") or 0))

        def do_GET(self) -> None:
            if self.path == "/v1/.well-known/openidconfiguration":
                return self._json(200, {"issuer": bf.issuer, "jwks_uri": f"{bf.url}/v1/keys"})
            if self.path == "/v1/keys":
                return self._json(200, bf.jwks())
            match = CONNECTOR.match(self.path)
            if not match or match.group(2) != "members":
                return self._json(404, {"error": "no such resource"})
            if self.headers.get("authorization") != f"Bearer {bf.bot_token}":
                return self._json(401, {"error": "the bot's token is missing"})
            roster = bf.rosters.get(unquote(match.group(1)), [])
            if match.group(3) is None:
                return self._json(200, [bf.members[m] for m in roster])
            member = next((bf.members[m] for m in roster if bf.members[m]["id"] == unquote(match.group(3))), None)
            return self._json(200, member) if member else self._json(404, {"error": "not a member"})

        def do_POST(self) -> None:
            body = self._body()
            if self.path == "/token":
                form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
                if form.get("client_id") != bf.app_id or form.get("client_secret") != bf.secret:
                    return self._json(401, {"error": "invalid_client"})
                grant = {"token_type": "Bearer", "expires_in": 3600, "access_token": bf.bot_token}  # nosec B105
                return self._json(200, grant)
            match = CONNECTOR.match(self.path)
            if not match or match.group(2) != "activities":
                return self._json(404, {"error": "no such resource"})
            if self.headers.get("authorization") != f"Bearer {bf.bot_token}":
                return self._json(401, {"error": "the bot's token is missing"})
            with bf._lock:
                bf.posted.append({"reply_to": unquote(match.group(3) or ""), "body": json.loads(body)})
                n = len(bf.posted)
            return self._json(200, {"id": f"reply-{n}"})

    return Handler
