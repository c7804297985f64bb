"""The toolbox without a model: tools from configuration and from an OpenAPI document, the rules every call goes
through (unknown tool, invalid arguments, confirmation, secrets from the environment), and the audit record."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from configs.errors import ConfigError
from configs.settings import ToolAction, ToolsSettings
from serving.actions.tools import SEARCH, Toolbox, load_openapi

OPENAPI = """
openapi: 3.0.3
info: {title: Tickets, version: "1"}
servers: [{url: "http://127.0.0.1:9/api"}]
paths:
  /tickets:
    post:
      operationId: submit_ticket
      summary: Open a ticket
      requestBody:
        content:
          application/json:
            schema:
              type: object
              properties: {title: {type: string, minLength: 3}, priority: {type: string, enum: [low, high]}}
              required: [title]
  /tickets/{ticket_id}:
    get:
      operationId: ticket_status
      summary: A ticket's status
      parameters:
        - {name: ticket_id, in: path, schema: {type: string}}
        - {name: verbose, in: query, schema: {type: boolean}}
  /health:
    get:
      summary: no operationId, so no tool
"""


def _toolbox(tmp_path: Path, records: list[tuple[str, Any, dict[str, Any]]], **settings: Any) -> Toolbox:
    return Toolbox(
        ToolsSettings(**settings),
        lambda query, scope: [{"source": "hr/leave-policy.md", "page": None, "text": f"found {query}"}],
        lambda kind, identity, details: records.append((kind, identity, details)),
        tmp_path,
    )


def test_an_openapi_document_becomes_tools(tmp_path: Path) -> None:
    (tmp_path / "tickets.yaml").write_text(OPENAPI)
    tools = {t.name: t for t in load_openapi(tmp_path / "tickets.yaml")}
    assert set(tools) == {"submit_ticket", "ticket_status"}
    submit, status = tools["submit_ticket"], tools["ticket_status"]
    assert submit.method == "POST" and submit.url == "http://127.0.0.1:9/api/tickets" and submit.changes_something
    assert submit.parameters["required"] == ["title"] and "priority" in submit.parameters["properties"]
    assert status.parameters["required"] == ["ticket_id"] and not status.changes_something
    assert status.definition()["function"]["name"] == "ticket_status"
    (tmp_path / "relative.yaml").write_text(OPENAPI.replace("http://127.0.0.1:9/api", "/api"))
    with pytest.raises(ConfigError, match="absolute"):
        load_openapi(tmp_path / "relative.yaml")


def test_every_call_is_checked_before_it_runs_and_recorded(tmp_path: Path) -> None:
    (tmp_path / "tickets.yaml").write_text(OPENAPI)
    records: list[tuple[str, Any, dict[str, Any]]] = []
    box = _toolbox(tmp_path, records, openapi=[Path("tickets.yaml")])
    assert [d["function"]["name"] for d in box.definitions()] == [SEARCH, "submit_ticket", "ticket_status"]
    assert box.call("drop_tables", "{}", "ann", None, True).status == "refused"
    assert box.call("submit_ticket", "{", "ann", None, True).status == "error"
    invalid = box.call("submit_ticket", {"title": "ab", "priority": "urgent"}, "ann", None, True)
    assert invalid.status == "error" and "Invalid arguments" in invalid.output
    pending = box.call("submit_ticket", {"title": "VPN down"}, "ann", None, confirmed=False)
    assert pending.status == "needs_confirmation"
    found = box.call(SEARCH, {"query": "leave"}, "ann", "the scope", False)
    assert found.status == "done" and "found leave" in found.output
    down = box.call("ticket_status", {"ticket_id": "T/1"}, "ann", None, False)  # a GET runs at once: port 9 is shut
    assert down.status == "error" and "could not be reached" in down.output
    assert [r[2]["status"] for r in records] == ["refused", "error", "error", "needs_confirmation", "done", "error"]
    assert all(r[0] == "tool.call" and r[1] == "ann" for r in records)


def test_a_tool_secret_comes_from_the_environment_and_names_are_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    action = ToolAction(name="status", description="d", url="http://127.0.0.1:9/s", auth_header="Authorization",
                        auth_env="TEST_STATUS_TOKEN")  # fmt: skip
    box = _toolbox(tmp_path, [], actions=[action])
    monkeypatch.delenv("TEST_STATUS_TOKEN", raising=False)
    missing = box.call("status", {}, "ann", None, False)
    assert missing.status == "error" and "TEST_STATUS_TOKEN" in missing.output
    with pytest.raises(ConfigError, match="declared twice"):
        _toolbox(tmp_path, [], actions=[action, action])
    with pytest.raises(ValueError):
        ToolAction(name="bad name!", description="d", url="http://x")
