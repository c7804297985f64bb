"""API clients see which sources held text addressed to the assistant: the `withheld` flag on chat-completion
citations (whole and streamed) and on Responses API file_citation annotations, for the HOSTILE document of the
kb_index fixture and no other."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import start_app

pytestmark = pytest.mark.integration
QUESTION = "What happened to the VPN gateway in March?"


def _flags(citations: list[dict[str, object]]) -> dict[bool, set[str]]:
    """Sources whose passage was withheld (True) and not (False)."""
    out: dict[bool, set[str]] = {True: set(), False: set()}
    for c in citations:
        out[bool(c["withheld"])].add(str(c["source"]).rsplit("/", 1)[-1])
    return out


def test_citations_say_which_source_held_text_for_the_assistant(kb_index: Path, tmp_path: Path) -> None:
    with start_app(kb_index, tmp_path, llm={"backend": "extractive"}) as app:
        body = {"messages": [{"role": "user", "content": QUESTION}]}
        data = httpx.post(f"{app.url}/v1/chat/completions", json=body, timeout=120).json()
        flags = _flags(data["citations"])
        assert flags[True] == {"vpn-incidents.md"} and flags[False], data["citations"]  # others are false

        streamed = httpx.post(f"{app.url}/v1/chat/completions", json={**body, "stream": True}, timeout=120)
        events = [json.loads(line[6:]) for line in streamed.text.splitlines() if line.startswith("data: {")]
        assert _flags(events[-1]["citations"])[True] == {"vpn-incidents.md"}

        r = httpx.post(f"{app.url}/v1/responses", json={"model": "kb-assistant", "input": QUESTION}, timeout=120)
        assert r.status_code == 200, r.text
        annotations = [
            a for part in r.json()["output"][0]["content"] for a in part["annotations"] if a["type"] == "file_citation"
        ]
        assert annotations and all(isinstance(a["withheld"], bool) for a in annotations)
        by_file = {a["filename"].rsplit("/", 1)[-1]: a["withheld"] for a in annotations}
        assert by_file.get("vpn-incidents.md") is True, annotations  # the answer quotes the hostile document
        assert not any(v for k, v in by_file.items() if k != "vpn-incidents.md")
