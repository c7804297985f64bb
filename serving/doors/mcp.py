"""The knowledge base as a Model Context Protocol server, built with the official `mcp` SDK (MCPServer).

Two transports, one set of tools:
- streamable HTTP at /mcp on the server's own port. The SDK's session manager serves the stateless revision
  2026-07-28 (no handshake, version and client in each request's `_meta`) and the handshake-era revisions
  (2025-06-18, 2025-11-25) side by side. Authentication is the app's own gate in front of it, exactly as for /v1:
  a personal API key or an OIDC access token as bearer (never the page's cookie), anonymous only where /v1 is
  anonymous. Each tool call acts for the identity the gate found on that very HTTP request. With OIDC configured,
  /.well-known/oauth-protected-resource/mcp (RFC 9728) names the issuer, and a 401 points to it.
- stdio through `python -m serving mcp [--index DIR]`, for desktop assistants that start the server themselves: it
  acts for mcp.stdio_user with mcp.stdio_groups ("local": the one person on this machine, while authentication is
  off).

Tools: `search` (passages with file, page or section, and a link), `ask` (the verified answer with its numbered
sources), `list_collections`, and `fetch` (a passage by id, or a whole indexed file by path), all within the
caller's collections, through serving.doors.core.Door (rate limits, audit with door "mcp", metrics).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field
from starlette.routing import Route

from configs.errors import KBError
from configs.settings import Settings
from serving.access.auth import resource_base
from serving.access.identity import LOCAL, Identity, parse_groups
from serving.access.quotas import OverLimit, Quotas
from serving.doors.core import MAX_DOCUMENT_CHARS, Door, DoorServices, Mounted
from serving.doors.mcp_text import answer_text, document_text, hits_text, passage_text
from serving.error_shape import error_body, send_json

logger = logging.getLogger(__name__)

PATH = "/mcp"

INSTRUCTIONS = (
    "A team's knowledge base: its own documents (policies, manuals, notes), searchable and answerable only from what "
    "the signed-in person may read. Use `ask` for a question a reader wants answered (the answer is verified "
    "against its sources and cites them as [n]); use `search` to find passages to read or quote yourself; "
    "`fetch` reads a passage or a whole file that a search or an answer named; `list_collections` shows what the "
    "person may read. Answers say so when the documents do not cover the question: do not fill the gap."
)


def build_server(door: Door, who: Callable[[Any], Identity], base_url: str | None = None) -> MCPServer:
    """The MCP server with the knowledge base's tools; `who` names the caller of one tool call (from its Context)."""
    # log_level: the SDK's logging.basicConfig must not turn on INFO logs for the whole process
    server = MCPServer(
        name="kb-assistant", title="Knowledge base", instructions=INSTRUCTIONS, version="1", log_level="WARNING"
    )

    async def run(ctx: Any, work: Callable[[Identity], str]) -> str:
        identity = who(ctx)
        try:
            return await asyncio.to_thread(work, identity)
        except OverLimit as exc:
            raise ToolError(f"too many requests: {exc}") from exc
        except KBError as exc:  # a clear one-line message: an empty question, an unknown collection ...
            raise ToolError(str(exc)) from exc

    def scoped(collections: list[str] | None) -> dict[str, Any] | None:
        return {"collections": collections} if collections else None

    @server.tool(
        name="search",
        title="Search the knowledge base",
        description="Find the passages of the team's documents that best match a query (hybrid: meaning and "
        "words), within the collections the caller may read. Returns each passage's id (for `fetch`), file path, "
        "page or section, a link and its text. Use it to find material to read or quote; use `ask` for an answer.",
    )
    async def search(
        query: Annotated[str, Field(description="What to look for: a question or keywords", min_length=1)],
        ctx: Context,
        top_k: Annotated[int, Field(description="How many passages to return", ge=1, le=20)] = 5,
        collections: Annotated[
            list[str] | None, Field(description="Only these collections (see list_collections); default: all")
        ] = None,
    ) -> str:
        return await run(ctx, lambda i: hits_text(door.search(i, query, scoped(collections), top_k), base_url))

    @server.tool(
        name="ask",
        title="Ask the knowledge base",
        description="Answer a question from the team's documents only. Every sentence of the answer is checked "
        "against its sources and cited as [n]; the numbered sources follow the answer with file, section and "
        "link. When the documents do not cover the question, the answer says it could not find it: pass that on "
        "rather than answering from general knowledge.",
    )
    async def ask(
        question: Annotated[str, Field(description="The question, in the asker's words", min_length=1)],
        ctx: Context,
        collections: Annotated[
            list[str] | None, Field(description="Only these collections (see list_collections); default: all")
        ] = None,
    ) -> str:
        return await run(ctx, lambda i: answer_text(door.ask(i, question, filters=scoped(collections)), base_url))

    @server.tool(
        name="list_collections",
        title="List collections",
        description="The collections (top folders of the indexed documents) the caller may read: names to pass "
        "as `collections` to search and ask.",
    )
    async def list_collections(ctx: Context) -> str:
        names = await run(ctx, lambda i: "\n".join(door.collections(i)))
        return names or "No collection is readable for you."

    @server.tool(
        name="fetch",
        title="Read a passage or a file",
        description="Read what a search result or an answer's source pointed to: a passage by its `id`, or a whole "
        "indexed file by its `path` (the full path a search result gives). Only documents the caller may read.",
    )
    async def fetch(
        ctx: Context,
        id: Annotated[str | None, Field(description="A passage id from search")] = None,  # noqa: A002
        path: Annotated[str | None, Field(description="An indexed file's path from search")] = None,
    ) -> str:
        if bool(id) == bool(path):
            raise ToolError("give either `id` (a passage from search) or `path` (an indexed file), not both")

        def read(identity: Identity) -> str:
            if id:
                chunk = door.passage(identity, id)
                if chunk is None:
                    raise ToolError(f"no passage {id!r} that you may read; ids come from search")
                return passage_text(chunk, base_url)
            chunks = door.document(identity, str(path))
            if not chunks:
                raise ToolError(f"no indexed file {path!r} that you may read; paths come from search")
            return document_text(chunks, base_url, MAX_DOCUMENT_CHARS)

        return await run(ctx, read)

    return server


def _http_caller(ctx: Any) -> Identity:
    """The identity the app's authentication gate found on the HTTP request that carried this tool call."""
    request = ctx.request_context.request
    identity = getattr(getattr(request, "state", None), "identity", None)
    if not isinstance(identity, Identity):  # the gate sets one on every request it lets through
        raise ToolError("not authenticated: send 'Authorization: Bearer <key>'")
    return identity


def mount(app: Any, assistant: DoorServices) -> Mounted | None:
    """/mcp on the app (mcp.enabled), with the protected-resource metadata when OIDC is configured."""
    settings = assistant.settings
    if not settings.mcp.enabled:
        return None
    from mcp.server.transport_security import TransportSecuritySettings

    base = settings.auth.public_url
    server = build_server(Door(assistant, "mcp", counted_outside=True), _http_caller, base)  # _Caller counts
    # Host and Origin are checked against the listening address (DNS rebinding), and the public URL when set.
    hosts, origins = _allowed(settings)
    security = TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins
    )
    http = server.streamable_http_app(
        streamable_http_path=PATH,
        transport_security=security,
        max_request_body_size=settings.serving.max_request_kb * 1024,
    )
    # The SDK's own route for /mcp, on our app (behind its authentication gate), each request bound to its caller;
    # its session manager runs in our lifespan below. (Mounting the SDK's Starlette app would answer /mcp with a
    # redirect to /mcp/.)
    for route in http.routes:
        if isinstance(route, Route) and route.path == PATH:
            route = Route(PATH, endpoint=_Caller(route.endpoint, assistant.quotas))
        app.router.routes.append(route)
    open_paths: tuple[str, ...] = ()
    if settings.auth.oidc_issuer:
        listen = f"{settings.serving.host}:{settings.serving.port}"
        open_paths = _protected_resource(app, settings, resource_base(settings.auth, listen))

    @asynccontextmanager
    async def running() -> AsyncIterator[None]:
        async with server.session_manager.run():
            yield

    return Mounted("mcp", open_paths, running)


class _Caller:
    """Each /mcp request as the identity the authentication gate found: counted against that identity's rate
    limit like a /v1 request (tools/list and initialize too, not only tool calls), and named to the SDK as the
    authenticated user, which binds a handshake-era session to the person who opened it: another person's key
    with that Mcp-Session-Id is refused (the SDK compares the session's owner on every request)."""

    def __init__(self, app: Any, quotas: Quotas) -> None:
        self.app = app
        self.quotas = quotas

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        identity = scope.get("state", {}).get("identity")
        if scope["type"] == "http" and isinstance(identity, Identity):
            try:
                self.quotas.request(identity.limit_key)
            except OverLimit as exc:
                body = error_body(str(exc), "rate_limit_error")
                await send_json(send, 429, body, [(b"retry-after", str(exc.retry_after).encode())])
                return
            # Not a credential: the SDK keys a session's owner by client id and subject.
            owner = AccessToken(token="-", client_id=identity.user, scopes=[], subject=identity.user)  # nosec B106
            scope = dict(scope, user=AuthenticatedUser(owner))
        await self.app(scope, receive, send)


def _allowed(settings: Settings) -> tuple[list[str], list[str]]:
    from urllib.parse import urlsplit

    host, port = settings.serving.host, settings.serving.port
    names = {"127.0.0.1", "localhost", "[::1]"} if host in ("127.0.0.1", "localhost", "::1") else {host}
    hosts = [f"{n}:{port}" for n in names] + [f"{n}:*" for n in names]
    origins = [f"http://{n}:*" for n in names] + [f"https://{n}:*" for n in names]
    if settings.auth.public_url:
        public = urlsplit(settings.auth.public_url)
        hosts.append(public.netloc)
        origins.append(f"{public.scheme}://{public.netloc}")
    return hosts, origins


def _protected_resource(app: Any, settings: Settings, base: str) -> tuple[str, ...]:
    """RFC 9728 metadata for /mcp, naming the OpenID provider as its authorization server (the MCP authorization
    spec's discovery); open, as the spec requires."""
    from mcp.server.auth.routes import create_protected_resource_routes
    from pydantic import AnyHttpUrl

    resource = AnyHttpUrl(base.rstrip("/") + PATH)
    routes = create_protected_resource_routes(
        resource,
        [AnyHttpUrl(str(settings.auth.oidc_issuer))],
        scopes_supported=settings.auth.oidc_scopes.split(),
        resource_name="kb-assistant knowledge base",
    )
    for route in routes:
        app.router.routes.append(route)
    return tuple(str(r.path) for r in routes)


def stdio_identity(settings: Settings, auth_required: bool) -> Identity:
    """Who `python -m serving mcp` acts for: mcp.stdio_user with mcp.stdio_groups; "local" without groups is the
    one person on this machine (everything). Whoever starts it can read the index's files already, so with
    authentication on, "local" is still served, with a warning that names the settings to narrow it."""
    mcp = settings.mcp
    if mcp.stdio_user == "local" and not mcp.stdio_groups:
        if auth_required:
            logger.warning(
                "MCP over stdio acts as the local user (every collection) although authentication is on here: set "
                "mcp.stdio_user and mcp.stdio_groups (KB_MCP__STDIO_USER, KB_MCP__STDIO_GROUPS) to act for one person"
            )
        return LOCAL
    return Identity(mcp.stdio_user, parse_groups(mcp.stdio_groups), "key", name=mcp.stdio_user)


def stdio_server(assistant: DoorServices) -> Callable[[], None]:
    """What serves MCP over stdin/stdout (newline-delimited JSON-RPC) until the client closes it, acting for
    mcp.stdio_user; logs go to stderr."""
    settings = assistant.settings
    identity = stdio_identity(settings, assistant.authenticator.required())
    server = build_server(Door(assistant, "mcp"), lambda ctx: identity, settings.auth.public_url)
    return lambda: asyncio.run(server.run_stdio_async())
