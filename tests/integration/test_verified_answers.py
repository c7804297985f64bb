"""Answers a reader can trust: every sentence shown as the answer is supported by the source it cites.

The scripted model makes the chain's decisions testable exactly; the bundled 135M model behind llama.cpp's
real server is the adversary it was built for (it states numbers its sources do not contain)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from retrieval.text import numbers
from serving.answer.citations import claims
from serving.answer.markers import strip_markers
from serving.answer.results import Answer, Delta
from serving.llm.fake import ScriptedChatModel
from tests.conftest import make_settings
from tests.integration.conftest import start_app

pytestmark = pytest.mark.integration
PARIS = "What is the maximum hotel price per night in Paris?"


def _assistant(index: Path, tmp_path: Path, reply: str) -> Any:
    from serving.app import Assistant

    settings = make_settings(index, serving={"feedback_db": str(tmp_path / "fb.sqlite")})
    return Assistant(settings, index, chat_model=ScriptedChatModel(reply))


def _stream(assistant: Any, question: str) -> tuple[str, Answer]:
    streamed, final = "", None
    for event in assistant.chain.stream(question):
        if isinstance(event, Delta):
            streamed += event.text
        else:
            final = event
    assert final is not None
    return streamed, final


def _hotel(answer: Answer) -> int:
    return next(c.index for c in answer.citations if c.relpath.endswith("travel-policy.docx") and "220" in c.text)


def test_a_wrong_number_leaves_the_answer_and_the_rest_stays(kb_index: Path, tmp_path: Path) -> None:
    reply = "The maximum in Paris is 25 euros per night [1]. Breakfast is included in the limit [1]."
    streamed, answer = _stream(_assistant(kb_index, tmp_path, reply), PARIS)
    assert "25 euros" not in streamed and "25 euros" not in answer.text
    assert "Breakfast is included" in answer.text and answer.mode == "llm"
    assert [r.text for r in answer.removed] == ["The maximum in Paris is 25 euros per night."]
    assert "numbers not in the sources: 25" in answer.removed[0].reasons
    assert "left out" in (answer.notice or "")
    assert streamed.strip() == answer.text  # nothing was streamed that the final answer does not contain


def test_when_nothing_is_supported_the_extractive_answer_takes_over(kb_index: Path, tmp_path: Path) -> None:
    reply = "Visit the website of the company that created the VPN. It costs 1.50 euros."
    _, answer = _stream(_assistant(kb_index, tmp_path, reply), PARIS)
    assert answer.mode == "unverified" and "could not be verified" in (answer.notice or "")
    first = answer.text.splitlines()[0]
    assert "220 euros per night" in first and re.search(r"\[\d\]", first)  # the first line answers, cited
    assert len(answer.removed) == 2


def test_an_uncited_or_miscited_true_sentence_gets_the_source_that_supports_it(kb_index: Path, tmp_path: Path) -> None:
    reply = "The hotel limit is 220 euros per night in Paris.\nBreakfast is included in the limit [5]."
    _, answer = _stream(_assistant(kb_index, tmp_path, reply), PARIS)
    hotel = _hotel(answer)
    assert answer.mode == "llm" and not answer.removed
    assert f"Paris [{hotel}]." in answer.text and f"limit [{hotel}]." in answer.text
    assert "\n" in answer.text  # the model's line break survives verification
    assert answer.cited == [hotel]


def test_a_refusal_is_said_and_an_unanswerable_question_still_gets_could_not_find(
    kb_index: Path, tmp_path: Path
) -> None:
    assistant = _assistant(kb_index, tmp_path, "The documents do not contain an answer to this question.")
    _, refused = _stream(assistant, PARIS)
    assert refused.mode == "unverified" and "found no answer in the sources" in (refused.notice or "")
    assert "220 euros per night" in refused.text.splitlines()[0]  # the passages closest to the question
    _, unknown = _stream(assistant, "What is the boiling point of tungsten in kelvin?")
    assert unknown.mode == "no-context" and "could not find" in unknown.text


HANDBOOK = [
    PARIS,
    "How much is paid for one week of on-call duty?",
    "How do I reset my VPN password?",
    "How many days of paid annual leave do employees get?",
    "When does the VPN connection time out?",
    "How long must my password be?",
    "Who approves expense claims above 500 euros?",
    "How long is parental leave for birth parents?",
    "When is a doctor's note needed?",
    "What is the per diem on travel days?",
    "How often do releases ship?",
    "What is the learning budget?",
    "Are shared accounts allowed?",
    "When do new engineers join the on-call rotation?",
    "How much of the health insurance premium does the company pay?",
]


def test_no_handbook_answer_states_a_number_its_sources_lack(kb_index: Path, tmp_path: Path, llama_server: str) -> None:
    """The bundled 135M model through llama.cpp's real server: it invents numbers; none may reach the answer."""
    real_llm = {"llm": {"backend": "openai", "base_url": llama_server, "max_retries": 0, "max_tokens": 128}}
    removed_numbers = 0
    with start_app(kb_index, tmp_path, **real_llm) as app:
        for question in HANDBOOK:
            r = httpx.post(
                f"{app.url}/v1/chat/completions",
                json={"messages": [{"role": "user", "content": question}]},
                timeout=180,
            )
            data = r.json()
            text = data["choices"][0]["message"]["content"]
            kb = data["kb"]
            assert kb["mode"] in ("llm", "unverified"), (question, kb)
            by_index = {c["index"]: c for c in data["citations"]}
            for sentence, cited in claims(text):
                assert cited, (question, sentence)  # every sentence shown can be checked against a source
                stated = numbers(strip_markers(sentence))
                available = set().union(*(numbers(by_index[n]["text"]) for n in cited))
                assert stated <= available, (question, sentence)
            # Whatever was taken out is offered apart, never in the answer text.
            for item in kb["unverified"]:
                assert item["text"] not in text
                removed_numbers += any("numbers not in the sources" in reason for reason in item["reasons"])
            if kb["mode"] == "unverified":
                assert "could not be verified" in kb["notice"]
        outside = httpx.post(
            f"{app.url}/v1/chat/completions",
            json={"messages": [{"role": "user", "content": "What is the boiling point of tungsten in kelvin?"}]},
            timeout=180,
        ).json()
    assert "could not find" in outside["choices"][0]["message"]["content"]
    assert removed_numbers > 0  # the check was exercised: the small model did invent numbers


def test_auto_backend_picks_a_reachable_server_else_a_local_model_else_extractive(
    kb_index: Path, tmp_path: Path, llama_server: str
) -> None:
    import shutil

    from serving.llm.llamacpp import bundled_gguf

    def health(**llm: Any) -> dict[str, Any]:
        with start_app(kb_index, tmp_path, llm={"backend": "auto", "probe_timeout_s": 2, **llm}) as app:
            return dict(httpx.get(f"{app.url}/v1/health").json())

    served = health(base_url=llama_server)
    assert served["backend"].startswith("openai:") and "answers at" in served["backend_reason"]
    models = tmp_path / "models"
    nothing = health(base_url="http://127.0.0.1:9/v1", model_dir=str(models))
    assert nothing["backend"] == "extractive (no LLM)" and "make model" in nothing["backend_reason"]
    models.mkdir()
    shutil.copy(bundled_gguf(), models / "tiny.gguf")
    assert health(base_url="http://127.0.0.1:9/v1", model_dir=str(models))["backend"] == "extractive (no LLM)"
    (models / "tiny.gguf.sha256").write_text("0" * 64 + "  tiny.gguf\n")  # what `make model` writes last
    local = health(base_url="http://127.0.0.1:9/v1", model_dir=str(models))
    assert local["backend"] == "local:tiny.gguf" and "make model" in local["backend_reason"]
    assert json.loads(json.dumps(local))["verifier"].startswith("feature-verifier")


def test_generation_stops_once_the_model_is_clearly_answering_beside_its_sources(
    kb_index: Path, tmp_path: Path
) -> None:
    wrong = " ".join(f"The limit is {n} euros per night [1]." for n in (11, 12, 13, 14, 15, 16))
    _, answer = _stream(_assistant(kb_index, tmp_path, wrong), PARIS)
    assert answer.mode == "unverified" and answer.timings_ms.get("stopped_early") == 1.0
    assert len(answer.removed) == 3  # not 6: the rest of the reply was never generated
    _, late = _stream(_assistant(kb_index, tmp_path, "Breakfast is included in the limit [1]. " + wrong), PARIS)
    assert late.mode == "llm" and len(late.removed) == 6  # a supported sentence came first: no early stop


def test_a_heading_or_the_question_repeated_is_not_an_answer(kb_index: Path, tmp_path: Path) -> None:
    _, answer = _stream(_assistant(kb_index, tmp_path, "[1] Travel Policy > Hotels\nHotel price in Paris [1]."), PARIS)
    assert answer.mode == "unverified" and not answer.removed  # dropped as empty, not as false
    assert "220 euros per night" in answer.text.splitlines()[0]


@pytest.mark.parametrize(
    ("question", "fact"),
    [
        ("Which VPN client do I install?", "WireGuard client"),  # "vpn" is in every sentence of the guide
        ("Is there a company password vault I can use?", "Bitwarden"),  # FAQ "Can I use a password manager?"
        ("Do I have to rotate my password every few months?", "do not need to change"),  # "How often must I..."
        ("What happens after a release rollback?", "incident review"),
        ("How long does the VPN connection last?", "12 hours"),  # "last" asks for the duration, as "take" does
    ],
)
def test_the_first_line_of_an_extractive_answer_states_the_fact_asked_for(
    kb_index: Path, tmp_path: Path, question: str, fact: str
) -> None:
    from serving.app import Assistant

    settings = make_settings(kb_index, llm={"backend": "extractive"})
    answer = Assistant(settings, kb_index).chain.answer(question)
    assert answer.mode == "extractive" and fact in answer.text.splitlines()[0], answer.text
