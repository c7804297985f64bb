"""Actions a model may take through tool calls: HTTP operations declared in configuration (tools.actions) or read
from OpenAPI documents (tools.openapi), and `search_documents`, our retriever with the caller's permissions.

Every call goes through `Toolbox.call`, which is where the rules live:
- a model cannot call a tool that is not configured (the answer says so, as the tool's result);
- arguments are validated against the tool's JSON Schema before anything runs;
- an action that changes something (any method but GET) runs only once the user confirmed it;
- timeouts, refused connections and HTTP errors come back as the tool's result, never as a crash;
- every call and its outcome go to the audit trail (personal data redacted by the recorder).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import httpx
import yaml

from configs.environment import tool_secret
from configs.errors import ConfigError
from configs.settings import ToolsSettings

Status = Literal["done", "needs_confirmation", "refused", "error"]
SEARCH = "search_documents"
NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_RESULT_CHARS = 4000


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]
    method: str = "GET"
    url: str = ""
    auth_header: str | None = None
    auth_env: str | None = None  # the environment variable holding the header's value (never the value itself)
    timeout_s: float | None = None

    @property
    def changes_something(self) -> bool:
        return self.method != "GET"

    def definition(self) -> dict[str, Any]:
        """The tool as OpenAI-compatible chat servers (vLLM, llama.cpp) take it."""
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }


@dataclass(frozen=True)
class Outcome:
    status: Status
    output: str  # what the model is told (JSON text for results, a sentence for refusals and errors)
    data: Any = field(default=None, compare=False)


SEARCH_TOOL = Tool(
    SEARCH,
    "Search the team's documents (only the collections the user may read). Returns passages with their source.",
    {
        "type": "object",
        "properties": {"query": {"type": "string", "minLength": 1, "description": "what to look for"}},
        "required": ["query"],
        "additionalProperties": False,
    },
)


def load_openapi(path: Path) -> list[Tool]:
    """One tool per operation with an operationId: parameters from its path and query parameters and its JSON
    request body; the URL from the document's first server."""
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read the OpenAPI document {path} ({exc}); check tools.openapi") from exc
    servers = spec.get("servers") or [{}]
    base = str(servers[0].get("url", "")).rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise ConfigError(f"{path}: servers[0].url must be an absolute http(s) URL")
    tools = []
    for route, methods in (spec.get("paths") or {}).items():
        for method, op in methods.items():
            if method.upper() not in ("GET", "POST", "PUT", "PATCH", "DELETE") or "operationId" not in op:
                continue
            properties: dict[str, Any] = {}
            required: list[str] = []
            for p in op.get("parameters", []):
                if p.get("in") in ("path", "query"):
                    properties[p["name"]] = p.get("schema", {"type": "string"})
                    if p.get("required") or p.get("in") == "path":
                        required.append(p["name"])
            body = (((op.get("requestBody") or {}).get("content") or {}).get("application/json") or {}).get("schema")
            if body:
                properties.update(body.get("properties", {}))
                required += body.get("required", [])
            tools.append(
                Tool(
                    op["operationId"],
                    op.get("summary") or op.get("description") or op["operationId"],
                    {"type": "object", "properties": properties, "required": sorted(set(required))},
                    method.upper(),
                    base + route,
                )
            )
    return tools


class Toolbox:
    """The configured tools and the one place they are called from."""

    def __init__(
        self,
        settings: ToolsSettings,
        search: Callable[[str, Any], list[dict[str, Any]]] | None,
        record: Callable[[str, Any, dict[str, Any]], None],
        root: Path,
        secret: Callable[[str], str | None] = tool_secret,
    ) -> None:
        self.settings = settings
        self._secret = secret  # a tool's auth_env -> its value, at each call
        self._search = search
        self._record = record
        tools = [SEARCH_TOOL] if search is not None else []
        tools += [
            Tool(a.name, a.description, a.parameters, a.method, a.url, a.auth_header, a.auth_env, a.timeout_s)
            for a in settings.actions
        ]
        for doc in settings.openapi:
            tools += load_openapi(doc if doc.is_absolute() else root / doc)
        names = [t.name for t in tools]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ConfigError(f"tool names must be unique; {', '.join(duplicated)} is declared twice")
        bad = [n for n in names if not NAME.match(n)]
        if bad:
            raise ConfigError(f"tool name {bad[0]!r} must be 1-64 letters, digits, _ or -")
        self.tools = {t.name: t for t in tools}

    def definitions(self) -> list[dict[str, Any]]:
        return [t.definition() for t in self.tools.values()]

    def call(
        self, name: str, arguments: str | Mapping[str, Any], identity: Any, scope: Any, confirmed: bool
    ) -> Outcome:
        """Runs one tool call for the identity (within its scope); the outcome is what the model is told."""
        outcome = self._call(name, arguments, scope, confirmed)
        args = arguments if isinstance(arguments, str) else json.dumps(dict(arguments))
        self._record(
            "tool.call",
            identity,
            {"tool": name, "arguments": args[:2000], "status": outcome.status, "result": outcome.output[:1000]},
        )
        return outcome

    def _call(self, name: str, arguments: str | Mapping[str, Any], scope: Any, confirmed: bool) -> Outcome:
        import jsonschema

        tool = self.tools.get(name)
        if tool is None:
            known = ", ".join(self.tools) or "none"
            return Outcome("refused", f"There is no tool named {name!r} (tools: {known}).")
        try:
            args = json.loads(arguments) if isinstance(arguments, str) else dict(arguments)
        except json.JSONDecodeError as exc:
            return Outcome("error", f"The arguments are not valid JSON ({exc.msg}); nothing was done.")
        try:
            jsonschema.validate(args, tool.parameters)
        except jsonschema.ValidationError as exc:
            where = "/".join(str(p) for p in exc.absolute_path) or "arguments"
            return Outcome("error", f"Invalid arguments for {name} at {where}: {exc.message}. Nothing was done.")
        if tool.name == SEARCH and self._search is not None:
            hits = self._search(str(args["query"]), scope)
            return Outcome("done", json.dumps(hits, ensure_ascii=False)[:MAX_RESULT_CHARS], hits)
        if tool.changes_something and not confirmed:
            return Outcome("needs_confirmation", f"{name} changes something; it runs once the user confirms it.")
        return self._http(tool, args)

    def _http(self, tool: Tool, args: dict[str, Any]) -> Outcome:
        url, rest = tool.url, dict(args)
        for key in re.findall(r"{(\w+)}", tool.url):
            url = url.replace("{" + key + "}", quote(str(rest.pop(key, "")), safe=""))
        headers = {}
        if tool.auth_header and tool.auth_env:
            value = self._secret(tool.auth_env)
            if value is None:
                return Outcome("error", f"{tool.name} is not configured: the environment variable {tool.auth_env} "
                                        "is not set. Nothing was done.")  # fmt: skip
            headers[tool.auth_header] = value
        timeout = tool.timeout_s or self.settings.timeout_s
        try:
            if tool.method == "GET":
                response = httpx.get(url, params=rest, headers=headers, timeout=timeout)
            else:
                response = httpx.request(tool.method, url, json=rest, headers=headers, timeout=timeout)
        except httpx.TimeoutException:
            return Outcome("error", f"{tool.name} did not answer within {timeout:g} s; it may or may not have run.")
        except httpx.HTTPError as exc:
            return Outcome("error", f"{tool.name} could not be reached ({type(exc).__name__}); nothing was done.")
        text = response.text[:MAX_RESULT_CHARS]
        if response.status_code >= 400:
            return Outcome("error", f"{tool.name} answered HTTP {response.status_code}: {text}")
        try:
            data = response.json()
        except ValueError:
            data = text
        return Outcome("done", text, data)


def search_results(hits: Sequence[Any]) -> list[dict[str, Any]]:
    """Retriever hits as the search tool returns them."""
    return [
        {"source": h.chunk.meta.relpath or h.chunk.source, "page": h.chunk.meta.page, "text": h.chunk.text[:600]}
        for h in hits
    ]
