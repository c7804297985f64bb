"""An answer slot is given back when its client goes away, not when the abandoned answer would have finished:
otherwise a user who closes a slow stream is locked out of asking again (limits.concurrent_answers)."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path

import httpx
import pytest

from serving.llm.fake import ScriptedChatModel
from tests.integration.conftest import start_app

pytestmark = pytest.mark.integration
QUESTION = {"model": "kb-assistant", "messages": [{"role": "user", "content": "How many days of annual leave?"}]}


@pytest.mark.parametrize("route", ["/v1/chat/completions", "/v1/responses"])
def test_a_client_that_leaves_mid_stream_gives_its_answer_slot_back(kb_index: Path, tmp_path: Path, route: str) -> None:
    model_free = threading.Event()
    first = threading.Event()

    def reply(messages: Sequence[object]) -> str:
        if not first.is_set():  # the first answer is slow: its model call waits until the test ends
            first.set()
            model_free.wait(120)
        return "Employees get 25 days of annual leave."

    limits = {"limits": {"requests_per_minute": 0, "answers_per_day": 0, "concurrent_answers": 1}}
    if route == "/v1/chat/completions":
        body, started = QUESTION, '"role": "assistant"'
    else:
        body, started = {"model": "kb-assistant", "input": QUESTION["messages"][0]["content"]}, "content_part.added"
    try:
        with start_app(kb_index, tmp_path, chat_model=ScriptedChatModel(reply), **limits) as app:
            with (
                httpx.Client(base_url=app.url, timeout=30) as client,
                client.stream("POST", route, json={**body, "stream": True}) as stream,
            ):
                assert stream.status_code == 200
                seen = ""
                for piece in stream.iter_text():  # the stream has started ...
                    seen += piece
                    if started in seen:
                        break
                assert first.wait(30)  # ... and its answer is waiting for the model
                # the client has closed the connection; the abandoned answer is still "running"
            answered = None
            for _ in range(100):  # give the server a moment to notice the disconnect
                answered = httpx.post(f"{app.url}{route}", json=body, timeout=30)
                if answered.status_code != 429:
                    break
                time.sleep(0.1)
            assert answered is not None and answered.status_code == 200, answered.text if answered else None
    finally:
        model_free.set()
