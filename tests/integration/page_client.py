"""The page's own protocol spoken the way a browser, or an attacker, speaks it: /config lists the page's functions,
/gradio_api/upload stores files, /gradio_api/queue/join starts a function and /gradio_api/queue/data streams its
events (server-sent events). Used by the security tests to call every page function with chosen inputs."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

PREFIX = "/gradio_api"


@dataclass(frozen=True)
class PageFunction:
    """One event of the page (a dependency in /config) with the types of its input components."""

    fn_index: int
    api_name: str
    inputs: tuple[str, ...]  # component types, e.g. ("textbox", "file")
    trigger: str  # the event, e.g. "click", "like", "load"


@dataclass
class Outcome:
    """How a queued call ended: its output data, or the error message the page would show."""

    success: bool
    data: list[Any] = field(default_factory=list)
    error: str | None = None
    events: list[dict[str, Any]] = field(default_factory=list)  # every message of the stream, for diagnosis
    uncaught: bool = False  # the function raised something else than gr.Error: the page's "500"
    status: int = 200  # of the join: a call refused before it ran has its error status here


def file_data(path: str, name: str | None = None) -> dict[str, Any]:
    """A file input as the page sends it: a server path Gradio is meant to have stored in this upload."""
    return {"path": path, "orig_name": name or Path(path).name, "meta": {"_type": "gradio.FileData"}}


class PageClient:
    """A client of the page at `url`, with the given cookies (the sign-in session) and headers."""

    def __init__(self, url: str, cookies: dict[str, str] | None = None, headers: dict[str, str] | None = None) -> None:
        self.http = httpx.Client(base_url=url, cookies=cookies or {}, headers=headers or {}, timeout=120)
        self.session_hash = uuid.uuid4().hex[:11]

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> PageClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def config(self) -> dict[str, Any]:
        r = self.http.get("/config")
        r.raise_for_status()
        return dict(r.json())

    def functions(self) -> list[PageFunction]:
        """Every function of the page that has an API name."""
        config = self.config()
        types = {c["id"]: c["type"] for c in config["components"]}
        found = []
        for position, dep in enumerate(config["dependencies"]):
            if not dep.get("api_name"):
                continue
            trigger = dep["targets"][0][1] if dep.get("targets") else ""
            inputs = tuple(types[i] for i in dep["inputs"])
            found.append(PageFunction(int(dep.get("id", position)), str(dep["api_name"]), inputs, trigger))
        return found

    def upload(self, *files: Path) -> list[str]:
        """Stores files through Gradio's own upload route; returns the server paths it chose."""
        parts = [("files", (f.name, f.read_bytes(), "application/octet-stream")) for f in files]
        r = self.http.post(f"{PREFIX}/upload", files=parts)
        r.raise_for_status()
        return [str(p) for p in r.json()]

    def join(self, fn: PageFunction | int, data: list[Any], event_data: Any = None) -> httpx.Response:
        fn_index = fn.fn_index if isinstance(fn, PageFunction) else fn
        body = {
            "data": data,
            "fn_index": fn_index,
            "session_hash": self.session_hash,
            "event_data": event_data,
            "trigger_id": None,
        }
        return self.http.post(f"{PREFIX}/queue/join", json=body)

    def call(self, fn: PageFunction | int, data: list[Any], event_data: Any = None) -> Outcome:
        """Runs the function through the queue, as the page does."""
        joined = self.join(fn, data, event_data)
        if joined.status_code != 200:
            return Outcome(False, [], joined.text, [], joined.status_code >= 500, joined.status_code)
        event_id = joined.json()["event_id"]
        events: list[dict[str, Any]] = []
        with self.http.stream("GET", f"{PREFIX}/queue/data", params={"session_hash": self.session_hash}) as stream:
            stream.raise_for_status()
            for line in stream.iter_lines():
                if not line.startswith("data:"):
                    continue
                message = json.loads(line[5:])
                events.append(message)
                if message.get("event_id") not in (None, event_id):
                    continue
                if message.get("msg") == "process_completed":
                    output = message.get("output") or {}
                    if message.get("success"):
                        return Outcome(True, list(output.get("data") or []), None, events)
                    # gr.Error (an AppError) always carries a title; any other exception does not
                    error = str(output.get("error") or message.get("title") or "")
                    return Outcome(False, [], error, events, uncaught="title" not in output)
                if message.get("msg") in ("unexpected_error", "close_stream"):
                    return Outcome(False, [], str(message.get("message") or message.get("msg")), events, True)
        return Outcome(False, [], "the stream ended without a result", events)
