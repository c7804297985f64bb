"""The app on loopback: the HTTP API, answers with checked citations, filters, bad input, LLM down."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import start_app

pytestmark = pytest.mark.integration
EXTRACTIVE = {"llm": {"backend": "extractive"}}


def _chat(url: str, question: str, **body: Any) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/chat/completions", json={"messages": [{"role": "user", "content": question}], **body}, timeout=120
    )


def test_retrieve_returns_hits_with_metadata_and_honours_filters(kb_index: Path, tmp_path: Path) -> None:
    with start_app(kb_index, tmp_path, **EXTRACTIVE) as app:
        r = httpx.post(f"{app.url}/v1/retrieve", json={"query": "how many days of annual leave", "top_k": 5})
        assert r.status_code == 200
        hits = r.json()["hits"]
        assert hits[0]["metadata"]["relpath"] == "hr/leave-policy.md"
        assert any("25 days" in h["text"] for h in hits[:3])
        assert {"source", "collection", "relpath", "file_type", "section"} <= set(hits[0]["metadata"])
        pdf = httpx.post(
            f"{app.url}/v1/retrieve", json={"query": "laptop encryption", "filters": {"file_types": ["pdf"]}}
        )
        assert all(h["metadata"]["page"] >= 1 for h in pdf.json()["hits"]) and pdf.json()["hits"]  # pages for PDFs
        for query in ("leave", "VPN timeout", "expenses receipts", "password length"):
            for flt in ({"collections": ["it"]}, {"file_types": ["pdf"]}, {"tags": ["finance"]}):
                got = httpx.post(f"{app.url}/v1/retrieve", json={"query": query, "filters": flt, "top_k": 50}).json()
                key, (value,) = next(iter(flt.items()))
                field = {"collections": "collection", "file_types": "file_type", "tags": "tag:finance"}[key]
                for hit in got["hits"]:
                    assert hit["metadata"].get(field) in (value, True), (query, flt, hit["metadata"])


def test_chat_completion_answers_with_citations(kb_index: Path, tmp_path: Path) -> None:
    with start_app(kb_index, tmp_path, **EXTRACTIVE) as app:
        r = _chat(app.url, "How many days of paid annual leave do employees get?")
        assert r.status_code == 200
        data = r.json()
        answer = data["choices"][0]["message"]["content"]
        assert "25 days" in answer and "[1]" in answer
        cited = [c for c in data["citations"] if c["cited"]]
        assert cited and cited[0]["source"].endswith("leave-policy.md")
        assert {"index", "source", "page", "text"} <= set(data["citations"][0])
        # The cited file can be opened from the link the page shows.
        f = httpx.get(f"{app.url}/v1/files", params={"source": cited[0]["source"]})
        assert f.status_code == 200 and b"25 days" in f.content
        assert httpx.get(f"{app.url}/v1/files", params={"source": "/etc/passwd"}).status_code == 404


def test_a_question_of_several_parts_is_answered_part_by_part(kb_index: Path, tmp_path: Path) -> None:
    question = "How many weeks of parental leave do birth parents get and who do I tell about it?"
    with start_app(kb_index, tmp_path, **EXTRACTIVE) as app:
        chat = _chat(app.url, question).json()
        responses = httpx.post(f"{app.url}/v1/responses", json={"input": question}, timeout=120).json()
    answer = chat["choices"][0]["message"]["content"]
    assert "16 weeks" in answer and 'I found nothing in the documents that answers "Who do I tell about it"' in answer
    for kb in (chat["kb"], responses["kb"]):
        assert [(p["text"], p["status"]) for p in kb["parts"]] == [
            ("How many weeks of parental leave do birth parents get?", "answered"),
            ("Who do I tell about it?", "not found"),
        ]
        assert kb["parts"][0]["citations"] and kb["parts"][1]["citations"] == []


def test_streaming_completion_is_openai_compatible(kb_index: Path, tmp_path: Path) -> None:
    with start_app(kb_index, tmp_path, **EXTRACTIVE) as app:
        from openai import OpenAI

        client = OpenAI(base_url=f"{app.url}/v1", api_key="unused")
        stream = client.chat.completions.create(
            model="kb-assistant",
            messages=[{"role": "user", "content": "When does the VPN connection time out?"}],
            stream=True,
        )
        chunks = list(stream)
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert "12 hours" in text
        final = chunks[-1].model_extra or {}
        assert final["citations"] and final["kb"]["mode"] == "extractive"


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"messages": [{"role": "user", "content": "   "}]}, 400, "empty"),
        ({"messages": [{"role": "user", "content": "why? " * 20_000}]}, 400, "keep it under"),
        ({"messages": [{"role": "system", "content": "hi"}]}, 400, "user message"),
        ({"messages": []}, 400, "messages"),
        (
            {"messages": [{"role": "user", "content": "leave"}], "filters": {"colections": ["hr"]}},
            400,
            "unknown filter",
        ),
        ({"messages": [{"role": "user", "content": "leave"}], "filters": {"collections": ["hrr"]}}, 400, "known: "),
    ],
)
def test_bad_requests_get_clear_json_errors(
    kb_index: Path, tmp_path: Path, body: dict[str, Any], status: int, fragment: str
) -> None:
    with start_app(kb_index, tmp_path, **EXTRACTIVE) as app:
        r = httpx.post(f"{app.url}/v1/chat/completions", json=body, timeout=60)
        assert r.status_code == status
        assert fragment in r.json()["error"]["message"]


def test_oversized_body_and_api_key(kb_index: Path, tmp_path: Path) -> None:
    from serving.access.keys import KeyStore

    keys = tmp_path / "auth.sqlite"
    _, key = KeyStore(keys).create("ann", frozenset({"staff"}))
    with start_app(
        kb_index,
        tmp_path,
        llm={"backend": "extractive"},
        serving={"max_request_kb": 4},
        auth={"keys_db": str(keys)},
        access={"groups": {"staff": ["*"]}},
    ) as app:
        body = {"messages": [{"role": "user", "content": "leave policy"}]}
        assert _chat(app.url, "leave policy").status_code == 401
        ok = httpx.post(f"{app.url}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"})
        assert ok.status_code == 200
        big = {"messages": [{"role": "user", "content": "x" * 10_000}]}
        r = httpx.post(f"{app.url}/v1/chat/completions", json=big, headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 413 and "limit" in r.json()["error"]["message"]


def test_question_outside_the_documents_gets_no_guess(kb_index: Path, tmp_path: Path) -> None:
    with start_app(kb_index, tmp_path, **EXTRACTIVE) as app:
        data = _chat(app.url, "What is the boiling point of tungsten in kelvin?").json()
        assert data["kb"]["mode"] == "no-context" and data["citations"] == []
        assert "could not find" in data["choices"][0]["message"]["content"]


def test_follow_up_question_is_answered_in_the_context_of_the_conversation(kb_index: Path, tmp_path: Path) -> None:
    history = [
        {"role": "user", "content": "How many days of paid annual leave do full-time employees get?"},
        {"role": "assistant", "content": "Full-time employees get 25 days of paid annual leave [1]."},
        {"role": "user", "content": "And part-time staff?"},
    ]
    with start_app(kb_index, tmp_path, **EXTRACTIVE) as app:
        alone = _chat(app.url, "And part-time staff?").json()
        r = httpx.post(f"{app.url}/v1/chat/completions", json={"messages": history}, timeout=120)
    data = r.json()
    assert "leave" in data["kb"]["standalone_question"].lower()  # the follow-up carries the earlier topic
    cited = [c for c in data["citations"] if c["cited"]]
    assert cited and cited[0]["relpath"] == "hr/leave-policy.md"
    assert "in proportion to their contracted hours" in data["choices"][0]["message"]["content"]
    assert alone["kb"]["standalone_question"] == "And part-time staff?"  # no history, nothing added


def test_llm_down_falls_back_to_extractive_and_says_so(kb_index: Path, tmp_path: Path) -> None:
    down = {
        "llm": {
            "backend": "openai",
            "base_url": "http://127.0.0.1:9/v1",
            "model": "m",
            "max_retries": 0,
            "timeout_s": 2,
        }
    }
    with start_app(kb_index, tmp_path, **down) as app:
        data = _chat(app.url, "How many days of paid annual leave do employees get?").json()
        assert data["kb"]["mode"] == "fallback"
        assert "unavailable" in data["kb"]["notice"] and "cannot reach" in data["kb"]["notice"]
        assert "25 days" in data["choices"][0]["message"]["content"]


def test_hostile_document_text_is_quoted_not_obeyed(kb_index: Path, tmp_path: Path, llama_server: str) -> None:
    """A document that tells the assistant what to do: the LLM never receives that sentence as instructions."""
    real_llm = {"llm": {"backend": "openai", "base_url": llama_server, "max_retries": 0, "max_tokens": 96}}
    with start_app(kb_index, tmp_path, **real_llm) as app:
        data = _chat(app.url, "What happened to the VPN gateway in March?").json()
        answer = data["choices"][0]["message"]["content"]
        assert data["kb"]["mode"] in ("llm", "unverified")  # the model answered (verified, or set apart)
        assert "HACKED" not in answer and all("HACKED" not in u["text"] for u in data["kb"]["unverified"])
        hostile = [c for c in data["citations"] if c["source"].endswith("vpn-incidents.md")]
        assert hostile and "HACKED" in hostile[0]["text"]  # shown to the reader verbatim as a quoted source


def test_llm_answers_through_the_openai_backend(kb_index: Path, tmp_path: Path, llama_server: str) -> None:
    real_llm = {"llm": {"backend": "openai", "base_url": llama_server, "max_retries": 0, "max_tokens": 96}}
    with start_app(kb_index, tmp_path, **real_llm) as app:
        r = httpx.post(
            f"{app.url}/v1/chat/completions",
            timeout=120,
            json={
                "stream": True,
                "messages": [{"role": "user", "content": "How long is parental leave for birth parents?"}],
            },
        )
        events = [json.loads(line[6:]) for line in r.text.splitlines() if line.startswith("data: {")]
        text = "".join(e["choices"][0]["delta"].get("content", "") for e in events if e.get("choices"))
        kb = events[-1]["kb"]
        assert text.strip() and kb["mode"] in ("llm", "unverified")
        assert kb["timings_ms"]["first_token"] > 0  # the model really streamed
        for n in (int(x) for x in __import__("re").findall(r"\[(\d+)\]", text)):
            assert 1 <= n <= len(events[-1]["citations"])  # no marker points at a missing source


def test_chat_honours_temperature_and_max_tokens_counts_usage_and_names_its_model(
    kb_index: Path, tmp_path: Path
) -> None:
    from serving.llm.fake import ScriptedChatModel

    model = ScriptedChatModel("Breakfast is included in the limit [1].")
    with start_app(kb_index, tmp_path, chat_model=model, llm={"max_tokens": 200}) as app:
        question = "Is breakfast included in the hotel limit?"
        r = _chat(app.url, question, temperature=0.7, max_tokens=50, model="kb-assistant")
        assert r.status_code == 200 and model.last_options == {"max_tokens": 50, "temperature": 0.7}
        usage = r.json()["usage"]
        assert (
            usage["completion_tokens"] == 7 and usage["prompt_tokens"] > 50
        )  # the scripted model: one word, one token
        assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
        assert _chat(app.url, question, max_tokens=5000).status_code == 200
        assert model.last_options["max_tokens"] == 200  # capped at llm.max_tokens
        other = _chat(app.url, question, model="gpt-4o")
        assert other.status_code == 404 and other.json()["error"]["code"] == "model_not_found"
        assert "kb-assistant" in other.json()["error"]["message"]
        bad = _chat(app.url, question, temperature=3)
        assert bad.status_code == 400 and "temperature" in bad.json()["error"]["message"]
