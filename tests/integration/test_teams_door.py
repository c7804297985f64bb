"""The Teams door against a Bot Framework on loopback (eval/bench/botframework.py: OpenID metadata and its signing
key, the bot's own token, the activities' serviceUrl recording the replies). Activities are posted to the real app
with tokens signed by that key (and by others)."""

from __future__ import annotations

import json
import re
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from configs.errors import ConfigError
from eval.bench.botframework import BotFramework, rsa_key
from tests.integration.conftest import AppServer, start_app

pytestmark = pytest.mark.integration
APP_ID, SECRET, BOT_TOKEN = "5b1f0a2e-kb-teams-bot", "bot-password", "the-bots-own-token"
TENANT, OTHER_TENANT = "tenant-northwind", "tenant-evil"
VPN = "How do I reset my VPN password?"
GROUPS = {"hr-staff": ["hr"], "it-staff": ["it"]}
PEOPLE = {
    "alice@northwind.example": ["hr-staff"],
    "bob@northwind.example": ["it-staff"],
    "carol@northwind.example": ["hr-staff", "it-staff"],
    "dora@northwind.example": ["it-staff"],
}
# The connector's member records; mallory's e-mail is in no mapping. carol's e-mail is her UPN only. eve is of
# another tenant, whose admin set her e-mail (`mail`) to carol's address; frank is of ours, his `mail` set to carol's.
MEMBERS = {
    uid: {"id": f"29:{uid}", "name": uid.title(), "aadObjectId": f"aad-{uid}", "email": f"{uid}@northwind.example"}
    for uid in ("alice", "bob", "dora", "mallory")
}
MEMBERS["carol"] = {"id": "29:carol", "name": "Carol", "aadObjectId": "aad-carol",
                    "userPrincipalName": "carol@northwind.example"}  # fmt: skip
MEMBERS["eve"] = {"id": "29:eve", "name": "Eve", "aadObjectId": "aad-eve", "email": "carol@northwind.example",
                  "tenantId": OTHER_TENANT}  # fmt: skip
MEMBERS["frank"] = {"id": "29:frank", "name": "Frank", "aadObjectId": "aad-frank", "email": "carol@northwind.example",
                    "userPrincipalName": "frank@northwind.example"}  # fmt: skip
DAILY_ANSWERS = 6  # more than anyone but dora asks in this module


@dataclass
class Teams:
    app: AppServer
    bf: BotFramework
    state: Path

    def post(self, activity: dict[str, Any], token: str | None = None) -> httpx.Response:
        """Posts an activity as the Bot Framework does, with a valid token unless given one ("": none)."""
        token = self.bf.token() if token is None else token
        auth = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.post(f"{self.app.url}/teams/messages", json=activity, headers=auth, timeout=60)

    def post_raw(self, body: bytes | Iterator[bytes], token: str) -> httpx.Response:
        """Posts bytes as they are (an iterator: chunked, with no Content-Length)."""
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        return httpx.post(f"{self.app.url}/teams/messages", content=body, headers=headers, timeout=120)

    def activity(self, user: str, conversation: str, tenant: str = TENANT, **fields: Any) -> dict[str, Any]:
        kind = "personal" if conversation.startswith("a:") else "groupChat"
        return {
            "type": "message",
            "id": uuid.uuid4().hex,
            "channelId": "msteams",
            "serviceUrl": self.bf.service_url,
            "from": {"id": f"29:{user}", "name": user.title(), "aadObjectId": f"aad-{user}"},
            "recipient": {"id": "28:kb-bot", "name": "KB"},
            "conversation": {
                "id": conversation,
                "conversationType": kind,
                "isGroup": kind != "personal",
                "tenantId": tenant,
            },
            "channelData": {"tenant": {"id": tenant}},
            **fields,
        }

    def ask(self, user: str, conversation: str, question: str, tenant: str = TENANT) -> tuple[str, dict[str, Any]]:
        """Posts a question (mentioning the bot); the reply's id and the reply."""
        activity = self.activity(
            user,
            conversation,
            tenant,
            text=f"<at>KB</at> {question}",
            entities=[{"type": "mention", "text": "<at>KB</at>", "mentioned": {"id": "28:kb-bot", "name": "KB"}}],
        )
        r = self.post(activity)
        assert r.status_code == 202, r.text
        reply = self.bf.wait_reply(activity["id"])
        with self.bf._lock:
            n = next(i for i, p in enumerate(self.bf.posted, 1) if p["body"] is reply)
        return f"reply-{n}", reply

    def audit(self, kind: str, user: str) -> list[tuple[int, dict[str, Any]]]:
        """The audit trail's records of this kind for this person: (seq, body), oldest first."""
        with sqlite3.connect(self.state / "audit.sqlite") as db:
            query = "SELECT seq, body FROM records WHERE kind = ? AND user = ? ORDER BY seq"
            rows = db.execute(query, (kind, f"{user}@northwind.example")).fetchall()
        return [(seq, json.loads(body)) for seq, body in rows]

    def feedback(self) -> list[tuple[int, str, str]]:
        try:
            with sqlite3.connect(self.state / "feedback.sqlite") as db:
                return db.execute("SELECT rating, user, comment FROM feedback ORDER BY id").fetchall()
        except sqlite3.OperationalError:  # no feedback yet: the table is made with the first
            return []


def _settings(bf: BotFramework, **overrides: Any) -> dict[str, Any]:
    return {
        "app_id": APP_ID,
        "app_password": SECRET,  # from the environment in a deployment (KB_TEAMS__APP_PASSWORD)
        "tenant_id": TENANT,
        "openid_metadata_url": bf.metadata_url,
        "issuer": bf.issuer,
        "token_url": f"{bf.url}/token",
        **overrides,
    }


@contextmanager
def _serving(kb_index: Path, tmp: Path, doors: dict[str, Any]) -> Iterator[Teams]:
    """The app with the Teams door, and its Bot Framework on loopback."""
    bf = BotFramework(APP_ID, SECRET, BOT_TOKEN, MEMBERS)
    try:
        with start_app(
            kb_index,
            tmp,
            llm={"backend": "extractive"},
            teams=_settings(bf),
            doors=doors,
            access={"groups": GROUPS},
            audit={"path": str(tmp / "audit.sqlite")},
            limits={"requests_per_minute": 0, "answers_per_day": DAILY_ANSWERS, "concurrent_answers": 0},
        ) as app:
            yield Teams(app, bf, tmp)
    finally:
        bf.close()


@pytest.fixture(scope="module")
def teams(kb_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Teams]:
    with _serving(kb_index, tmp_path_factory.mktemp("teams"), {"people": PEOPLE}) as served:
        yield served


def _sources(reply: dict[str, Any]) -> set[str]:
    """The folders of the files a reply lists as its sources."""
    listed = reply["text"].split("**Sources**", 1)[1] if "**Sources**" in reply["text"] else ""
    return set(re.findall(r"\((\w+)/[^)]*\)", listed))


def test_a_question_is_answered_in_its_conversation_with_its_sources(teams: Teams) -> None:
    conversation = teams.bf.chat("bob")
    _, reply = teams.ask("bob", conversation, VPN)
    assert reply["conversation"]["id"] == conversation and reply["replyToId"]  # a reply, in the same conversation
    assert "vpn" in reply["text"].lower()
    assert _sources(reply) == {"it"}
    _, record = teams.audit("answer", "bob")[-1]
    assert record["question"] == VPN  # the mention of the bot is not part of the question


@pytest.mark.parametrize("case", ["forged", "expired", "audience", "issuer", "service_url", "none"])
def test_a_request_whose_token_does_not_hold_is_refused_and_nothing_is_sent(teams: Teams, case: str) -> None:
    bf = teams.bf
    now = int(time.time())
    token = {
        "forged": lambda: bf.token(key=rsa_key()),  # the right key id, another key
        "expired": lambda: bf.token(nbf=now - 7200, exp=now - 3600),
        "audience": lambda: bf.token(aud="another-bot"),
        "issuer": lambda: bf.token(iss="https://api.botframework.com"),
        "service_url": lambda: bf.token(serviceurl="http://127.0.0.1:9/elsewhere/"),
        "none": lambda: "",
    }[case]()
    activity = teams.activity("bob", bf.chat("bob"), text=VPN)
    r = teams.post(activity, token=token)
    assert r.status_code == 401
    time.sleep(1)
    assert teams.bf.replies_to(activity["id"]) == []


def test_an_outsiders_body_is_neither_parsed_nor_read_past_the_limit(teams: Teams) -> None:
    """Before the token holds, nothing of the body is parsed (a body that is no activity is a 401, not a 400), and
    no body is read past serving.max_request_kb (413): megabytes sent with any token cost the server nothing."""
    assert teams.post_raw(b"{ not an activity", "x").status_code == 401
    assert teams.post_raw(b"{ not an activity", teams.bf.token()).status_code == 400  # the token holds: parsed
    valid = teams.activity("bob", teams.bf.chat("bob"), text=VPN)
    heavy = json.dumps({**valid, "entities": [{"type": "x"}] * 250_000}).encode()  # 3.8 MB, as an outsider sent
    assert teams.post_raw(heavy, "x").status_code == 413
    assert teams.post_raw(heavy, teams.bf.token()).status_code == 413
    over = json.dumps({**valid, "text": "A" * 300 * 1024}).encode()  # just over the default 256 KB

    def chunked() -> Iterator[bytes]:  # no Content-Length: the limit holds as the body is read
        yield from (over[i : i + 16_384] for i in range(0, len(over), 16_384))

    assert teams.post_raw(chunked(), "x").status_code == 401  # not read at all
    assert teams.post_raw(chunked(), teams.bf.token()).status_code == 413
    time.sleep(1)
    assert teams.bf.replies_to(valid["id"]) == []


@pytest.mark.parametrize("channel", ["directline", "webchat", "emulator"])
def test_only_the_teams_channel_is_served(teams: Teams, channel: str) -> None:
    """The Bot Framework's keys are endorsed for other channels too, where the client writes who it is."""
    activity = teams.activity("bob", teams.bf.chat("bob"), text=VPN, channelId=channel)
    assert teams.post(activity).status_code == 401
    time.sleep(1)
    assert teams.bf.replies_to(activity["id"]) == []


def test_a_person_reads_only_their_own_collections(teams: Teams) -> None:
    _, alice = teams.ask("alice", teams.bf.chat("alice"), VPN)  # the VPN pages are in "it", alice is in hr
    assert "it" not in _sources(alice)
    _, carol = teams.ask("carol", teams.bf.chat("carol"), VPN)  # the same question for someone in both
    assert "it" in _sources(carol)


def test_a_group_chat_is_answered_from_what_every_member_may_read(teams: Teams) -> None:
    _, hr_and_both = teams.ask("carol", teams.bf.chat("alice", "carol", kind="group"), VPN)
    assert "it" not in _sources(hr_and_both)  # carol may read it, alice may not: the answer leaves it out
    _, it_and_both = teams.ask("carol", teams.bf.chat("bob", "carol", kind="group"), VPN)
    assert _sources(it_and_both) == {"it"}


def test_a_person_the_mapping_does_not_know_is_refused(teams: Teams) -> None:
    _, reply = teams.ask("mallory", teams.bf.chat("mallory"), VPN)
    assert "not known to the knowledge base" in reply["text"] and "**Sources**" not in reply["text"]
    _, group = teams.ask("bob", teams.bf.chat("bob", "mallory", kind="group"), VPN)
    assert "Mallory" in group["text"] and "**Sources**" not in group["text"]


def test_another_tenant_is_not_answered(teams: Teams) -> None:
    """eve, of another tenant, has carol's address as her e-mail: her activities are refused (403), whatever
    tenant they name the token must agree, and were one to name ours, Teams' member record says hers."""
    bf = teams.bf
    refused = [
        teams.activity("eve", bf.chat("eve"), OTHER_TENANT, text=VPN),
        teams.activity("eve", bf.chat("eve"), text=VPN, channelData={}),  # no tenant named
    ]
    for activity in refused:
        assert teams.post(activity).status_code == 403
    activity = teams.activity("carol", bf.chat("carol"), text=VPN)
    assert teams.post(activity, bf.token(tid=OTHER_TENANT)).status_code == 403  # the token is another tenant's
    assert all(bf.replies_to(a["id"]) == [] for a in [*refused, activity])
    _, reply = teams.ask("eve", bf.chat("eve"), VPN)  # the activity names our tenant; her member record does not
    assert "not known to the knowledge base" in reply["text"] and "**Sources**" not in reply["text"]


def test_a_person_is_mapped_by_sign_in_name_before_e_mail(teams: Teams) -> None:
    """frank's e-mail was set to carol's address; his sign-in name (UPN) is his own, and unknown."""
    _, reply = teams.ask("frank", teams.bf.chat("frank"), VPN)
    assert "not known to the knowledge base" in reply["text"] and "**Sources**" not in reply["text"]


def test_a_follow_up_is_part_of_the_same_conversation(teams: Teams) -> None:
    conversation = teams.bf.chat("carol")
    teams.ask("carol", conversation, VPN)
    teams.ask("carol", conversation, "And how long does the tunnel stay up?")
    (_, first), (_, second) = teams.audit("answer", "carol")[-2:]
    assert second["conversation"] == first["conversation"] and second["turn"] == 2


def test_feedback_on_a_reply_is_recorded(teams: Teams) -> None:
    conversation = teams.bf.chat("alice")
    reply_id, _ = teams.ask("alice", conversation, "How many days of sick leave do I get?")
    reaction = teams.activity("alice", conversation, type="messageReaction", replyToId=reply_id,
                              reactionsAdded=[{"type": "like"}])  # fmt: skip
    assert teams.post(reaction).status_code == 202
    submit = {"actionName": "feedback", "actionValue": {"reaction": "dislike", "feedback": '{"feedbackText": "old"}'}}
    invoke = teams.activity("alice", conversation, type="invoke", name="message/submitAction", replyToId=reply_id,
                            value=submit)  # fmt: skip
    r = teams.post(invoke)
    assert r.status_code == 200
    deadline = time.monotonic() + 30
    while len(teams.feedback()) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sorted(teams.feedback()) == [(-1, "alice@northwind.example", "old"), (1, "alice@northwind.example", "")]
    answered, _ = teams.audit("answer", "alice")[-1]
    assert [b["answer_seq"] for _, b in teams.audit("feedback", "alice")] == [answered, answered]


def test_feedback_counts_only_in_the_replys_conversation_from_its_members(teams: Teams) -> None:
    """A rating of alice's reply from bob's chat (as bob, or naming alice's id) is not stored; nor one naming
    alice's id in her group chat once she has left it: the connector, not the activity, says who rates."""
    bf = teams.bf
    reply_id, _ = teams.ask("alice", bf.chat("alice"), "How many days of sick leave do I get?")
    group = bf.chat("alice", "carol", kind="group")
    group_reply, _ = teams.ask("alice", group, "How many days of sick leave do I get?")
    bf.rosters[group] = ["carol"]  # alice left
    before = teams.feedback()
    elsewhere = bf.chat("bob")
    reactions = [
        *(teams.activity(u, elsewhere, type="messageReaction", replyToId=reply_id, reactionsAdded=[{"type": "angry"}])
          for u in ("bob", "alice")),
        teams.activity("alice", group, type="messageReaction", replyToId=group_reply, reactionsAdded=[{"type": "sad"}]),
    ]  # fmt: skip
    for reaction in reactions:
        assert teams.post(reaction).status_code == 202
    time.sleep(3)
    assert teams.feedback() == before


def test_answers_are_audited_as_the_teams_door(teams: Teams) -> None:
    teams.ask("bob", teams.bf.chat("bob"), VPN)
    _, record = teams.audit("answer", "bob")[-1]
    assert record["door"] == "teams" and record["question"] == VPN


def test_past_the_rate_limit_the_reply_says_so(teams: Teams) -> None:
    conversation = teams.bf.chat("dora")
    for _ in range(DAILY_ANSWERS):
        _, reply = teams.ask("dora", conversation, VPN)
        assert "**Sources**" in reply["text"]
    _, reply = teams.ask("dora", conversation, VPN)
    assert "too many requests" in reply["text"].lower() and "**Sources**" not in reply["text"]


def test_without_an_app_id_there_is_no_teams_endpoint(kb_index: Path, tmp_path: Path) -> None:
    with start_app(kb_index, tmp_path, llm={"backend": "extractive"}) as app:
        r = httpx.post(f"{app.url}/teams/messages", json={"type": "message"}, timeout=30)
    assert r.status_code == 404


def test_without_a_tenant_id_the_door_does_not_start(kb_index: Path, tmp_path: Path) -> None:
    bf = BotFramework(APP_ID, SECRET, BOT_TOKEN, MEMBERS)
    try:
        with pytest.raises(ConfigError, match="teams.tenant_id"):
            start_app(kb_index, tmp_path, llm={"backend": "extractive"}, teams=_settings(bf, tenant_id=None))
    finally:
        bf.close()


def test_with_unmapped_anonymous_a_person_no_mapping_knows_reads_nothing(kb_index: Path, tmp_path: Path) -> None:
    """doors.unmapped: anonymous on a server without authentication (a first setup): mallory is answered, from
    nothing, never as the machine's `local` user who reads everything."""
    with _serving(kb_index, tmp_path, {"people": PEOPLE, "unmapped": "anonymous"}) as served:
        _, reply = served.ask("mallory", served.bf.chat("mallory"), VPN)
        _, group = served.ask("bob", served.bf.chat("bob", "mallory", kind="group"), VPN)
    assert "**Sources**" not in reply["text"] and "**Sources**" not in group["text"]
