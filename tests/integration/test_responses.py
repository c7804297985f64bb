"""The Responses and Conversations APIs through the real `openai` SDK, unchanged: conversations that survive a
restart, follow-ups answered from the stored history, previous_response_id, the event stream, file citations,
and one user's conversations invisible to another."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import start_app

pytestmark = pytest.mark.integration
LEAVE = "How many days of paid annual leave do full-time employees get?"
FOLLOW_UP = "And part-time staff?"


def _keys(path: Path) -> dict[str, str]:
    from serving.access.keys import KeyStore

    store = KeyStore(path)
    return {u: store.create(u, frozenset({"staff"}))[1] for u in ("alice", "bob")}


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_conversations_persist_and_follow_ups_use_them(
    kb_index: Path, tmp_path: Path, database: str, request: pytest.FixtureRequest
) -> None:
    import openai

    keys = _keys(tmp_path / "auth.sqlite")
    storage: dict[str, str] = {"conversations_db": str(tmp_path / "conversations.sqlite")}
    if database == "postgresql":  # a real server: a throwaway cluster on loopback (KB_STORAGE__URL)
        storage["url"] = request.getfixturevalue("postgres")
    sections = {
        "llm": {"backend": "extractive"},
        "auth": {"keys_db": str(tmp_path / "auth.sqlite")},
        "access": {"groups": {"staff": ["*"]}},
        "storage": storage,
    }
    with start_app(kb_index, tmp_path, **sections) as app:
        client = openai.OpenAI(base_url=f"{app.url}/v1", api_key=keys["alice"], max_retries=0)
        conv = client.conversations.create()
        assert conv.id.startswith("conv_") and conv.object == "conversation"
        first = client.responses.create(model="kb-assistant", conversation=conv.id, input=LEAVE)
        assert "25" in first.output_text
        citations = [a for a in first.output[0].content[0].annotations if a.type == "file_citation"]
        assert citations and all(c.filename.endswith("leave-policy.md") for c in citations), citations
        assert first.output_text[citations[0].index] == "["  # the annotation points at its marker
        second = client.responses.create(model="kb-assistant", conversation=conv.id, input=FOLLOW_UP)
        kb = second.to_dict()["kb"]
        assert "leave" in kb["standalone_question"].lower()  # the follow-up was read with the first question
        assert "part-time" in second.output_text.lower() or "pro rata" in second.output_text.lower()
        # previous_response_id instead of a conversation
        chained = client.responses.create(model="kb-assistant", previous_response_id=first.id, input=FOLLOW_UP)
        assert "leave" in chained.to_dict()["kb"]["standalone_question"].lower()
        assert client.responses.retrieve(first.id).output_text == first.output_text
        # the event stream
        with client.responses.stream(model="kb-assistant", input=LEAVE) as stream:
            kinds = [event.type for event in stream]
            final = stream.get_final_response()
        assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
        assert "response.output_text.delta" in kinds and "25" in final.output_text
        # another user cannot see or continue alice's conversation
        bob = openai.OpenAI(base_url=f"{app.url}/v1", api_key=keys["bob"], max_retries=0)
        with pytest.raises(openai.NotFoundError):
            bob.conversations.retrieve(conv.id)
        with pytest.raises(openai.NotFoundError):
            bob.responses.create(model="kb-assistant", conversation=conv.id, input="What did alice ask?")
        with pytest.raises(openai.NotFoundError):
            bob.responses.retrieve(first.id)
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=f"{app.url}/v1", api_key="kb-0000-forged", max_retries=0).conversations.create()
        # chat completions are unchanged
        chat = client.chat.completions.create(model="kb-assistant", messages=[{"role": "user", "content": LEAVE}])
        assert "25" in (chat.choices[0].message.content or "")

    with start_app(kb_index, tmp_path / "restarted", **sections) as app:  # a new server on the same store
        client = openai.OpenAI(base_url=f"{app.url}/v1", api_key=keys["alice"], max_retries=0)
        items = client.conversations.items.list(conv.id)
        assert [i.role for i in items.data] == ["user", "assistant", "user", "assistant"]
        texts = [i.content[0].text for i in items.data]
        assert texts[0] == LEAVE and texts[2] == FOLLOW_UP and texts[1] == first.output_text
        newest = client.conversations.items.list(conv.id, order="desc", limit=1)
        assert newest.data[0].id == items.data[-1].id and newest.has_more
        if database == "postgresql":  # the conversation really lives in the server, not in a file
            import psycopg

            with psycopg.connect(storage["url"]) as db:
                stored = db.execute("SELECT COUNT(*) FROM items WHERE conversation_id = %s", (conv.id,)).fetchone()
            assert stored is not None and stored[0] == 4
            assert not (tmp_path / "conversations.sqlite").exists()
        assert client.conversations.delete(conv.id).deleted
        with pytest.raises(openai.NotFoundError):
            client.conversations.items.list(conv.id)
        bad = httpx.post(
            f"{app.url}/v1/responses",
            json={"input": [{"role": "assistant", "content": "no question here"}]},
            headers={"Authorization": f"Bearer {keys['alice']}"},
        )
        assert bad.status_code == 400 and "user message" in bad.json()["error"]["message"]


def test_the_schema_is_migrated_once_and_versioned(tmp_path: Path, postgres: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    import psycopg

    from serving.store.conversations import MIGRATIONS, ConversationStore

    def first_call(store: ConversationStore) -> dict[str, object]:  # a server starting: migrates, then writes
        return ConversationStore(store.path, store.url).create("ann")

    for store in (ConversationStore(tmp_path / "c.sqlite"), ConversationStore(tmp_path / "unused", postgres)):
        with ThreadPoolExecutor(4) as pool:  # four servers starting at once
            convs = list(pool.map(first_call, [store] * 4))
        assert len({c["id"] for c in convs}) == 4
        assert len(store.recent("ann")) >= 4 and store.recent("someone else") == []
    with psycopg.connect(postgres) as db:
        versions = [r[0] for r in db.execute("SELECT version FROM schema_version ORDER BY version")]
    assert versions == list(range(1, len(MIGRATIONS) + 1))
    assert "secret" not in ConversationStore(tmp_path, "postgresql://u:secret@127.0.0.1:1/x").where
