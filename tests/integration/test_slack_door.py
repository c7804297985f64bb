"""The Slack door against Slack's protocol on loopback: events signed as Slack signs them POSTed to the real app,
its Web API calls answered by a Slack peer (eval/bench/slack_peer.py, which bench-doors uses too) that records
them. Who may read what comes from a team's settings: people by e-mail, one of them through an API key, groups to
collections."""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from configs.audit import AuditLog
from eval.bench.slack_peer import BOT, Call, SlackPeer, callback, deliver
from tests.integration.conftest import AppServer, start_app

pytestmark = pytest.mark.integration
TOKEN, SECRET, APP_TOKEN = "xoxb-test-token", "signing-secret-for-tests", "xapp-test-token"
GROUPS = {"hr-staff": ["hr"], "it-staff": ["it"]}
PEOPLE = {"alice@example.com": ["hr-staff"], "carol@example.com": ["hr-staff", "it-staff"]}
NO_LIMITS = {"requests_per_minute": 0, "answers_per_day": 0, "concurrent_answers": 0}
PUBLIC = "https://kb.example.com"
VPN = "How do I reset my VPN password?"
LEAVE = "How many days of paid annual leave do full-time employees get?"
PLACEHOLDER = "Looking in the documents..."


def _user(uid: str, email: str | None, bot: bool = False) -> dict[str, Any]:
    profile = {"real_name": uid.title(), **({"email": email} if email else {})}
    return {"id": uid, "name": uid.lower(), "is_bot": bot, "is_email_confirmed": True, "profile": profile}


USERS = {
    "UALICE": _user("UALICE", "alice@example.com"),  # hr, from doors.people
    "UBOB": _user("UBOB", "bob@example.com"),  # it, from an API key made for his address
    "UCAROL": _user("UCAROL", "carol@example.com"),  # hr and it
    "UERIN": _user("UERIN", "erin@example.com"),  # nobody the mapping knows
    "UHELPER": _user("UHELPER", None, bot=True),  # another app in the channels: not a reader
    BOT: _user(BOT, None, bot=True),
}
CHANNELS = {
    "CHR": ["UALICE", "UCAROL", BOT, "UHELPER"],  # everyone reads hr
    "CMIX": ["UCAROL", "UBOB", BOT, "UHELPER"],  # only it is common
    "COPEN": ["UCAROL", "UERIN", BOT],  # someone unknown
}
_ids = itertools.count(1)


@dataclass
class Slack:
    """The app with Slack configured, the Slack peer, and the app's audit trail and feedback store."""

    app: AppServer
    peer: SlackPeer
    audit: AuditLog
    feedback: Path
    sent: dict[str, int] = field(default_factory=dict)  # event ts -> how many Web API calls had been made then

    def event(self, channel: str, user: str, text: str, kind: str = "app_mention", **more: Any) -> dict[str, Any]:
        """Delivers a new message event; returns the event (its ts names the thread the answer goes to)."""
        ts = f"1700000000.{next(_ids):06d}"
        event = {"type": kind, "channel": channel, "user": user, "text": text, "ts": ts, "event_ts": ts, **more}
        if kind == "message":
            event["channel_type"] = "im"
        self.sent[ts] = len(self.peer.calls)
        r = deliver(self.app.url, callback(event, f"Ev{ts}"), SECRET)
        assert r.status_code == 200, r.text
        return event

    def answer(self, event: dict[str, Any]) -> str:
        """The answer in the event's thread: posted there (chat.postMessage with the thread's ts), or, when slow,
        a placeholder posted there and then replaced by the answer."""
        thread = event.get("thread_ts") or event["ts"]
        after = self.sent[event["ts"]]
        shown = self.peer.wait("chat.postMessage", "nothing posted in the thread", after, thread_ts=thread)
        assert shown.args["channel"] == event["channel"]
        if shown.args["text"] != PLACEHOLDER:
            return str(shown.args["text"])
        replaced = self.peer.wait("chat.update", "the placeholder was never replaced", ts=shown.answer["ts"])
        return str(replaced.args["text"])

    def answers(self) -> list[dict[str, Any]]:
        return list(self.audit.records(kind="answer"))


def _slack_app(kb_index: Path, tmp: Path, peer: SlackPeer, **sections: Any) -> AppServer:
    from serving.access.keys import KeyStore

    KeyStore(tmp / "auth.sqlite").create("bob@example.com", frozenset({"it-staff"}))  # and so authentication is on
    # placeholder_after_s: answers come as one message, however slow a loaded test machine is (one test says 0)
    slack = {"bot_token": TOKEN, "signing_secret": SECRET, "api_url": peer.api_url, "placeholder_after_s": 60}
    slack.update(sections.pop("slack", {}))
    return start_app(
        kb_index,
        tmp,
        llm={"backend": "extractive"},
        auth={"keys_db": str(tmp / "auth.sqlite"), **sections.pop("auth", {})},
        access={"groups": GROUPS},
        audit={"path": str(tmp / "audit.sqlite")},
        doors={"people": PEOPLE},
        slack=slack,
        **{"limits": NO_LIMITS, **sections},
    )


@pytest.fixture(scope="module")
def slack(kb_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slack]:
    tmp = tmp_path_factory.mktemp("slack")
    with SlackPeer(TOKEN, USERS, CHANNELS) as peer, _slack_app(kb_index, tmp, peer, auth={"public_url": PUBLIC}) as app:
        yield Slack(app, peer, AuditLog(tmp / "audit.sqlite"), tmp / "feedback.sqlite")


def _folders(text: str) -> set[str]:
    """The folders of the sources an answer lists ('[1] <link|it/vpn-setup.html, ...>' or '[1] it/...')."""
    listed = text.split("*Sources*\n", 1)[1] if "*Sources*\n" in text else ""
    return {label.split("/")[0] for label in re.findall(r"^\[\d+\] (?:<[^|>]*\|)?([^>\n]+)", listed, re.MULTILINE)}


def _record(slack: Slack, question: str) -> dict[str, Any]:
    return next(r for r in reversed(slack.answers()) if r["question"] == question)


def test_the_url_verification_challenge_is_answered(slack: Slack) -> None:
    body = {"token": "unused", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}
    body["type"] = "url_verification"
    r = deliver(slack.app.url, body, SECRET)
    assert r.status_code == 200 and r.json() == {"challenge": body["challenge"]}


def test_a_mention_is_answered_in_its_thread_with_a_linked_source(slack: Slack) -> None:
    event = slack.event("CHR", "UALICE", f"<@{BOT}> {LEAVE}")
    text = slack.answer(event)
    assert "days" in text and _folders(text) == {"hr"}
    # a quick answer is the chat.postMessage in the question's thread itself (no placeholder first)
    posted = slack.peer.made("chat.postMessage", thread_ts=event["ts"], channel="CHR")
    assert [c.args["text"] for c in posted] == [text]
    assert re.search(r"<https://kb\.example\.com/v1/files\?source=[^|>]*leave-policy\.md\|hr/leave-policy\.md", text)
    assert f"<@{BOT}>" not in _record(slack, LEAVE)["question"]  # asked without the mention


def test_the_audit_record_of_a_slack_answer_names_the_door(slack: Slack) -> None:
    question = "How many days of sick leave are there?"
    slack.answer(slack.event("CHR", "UCAROL", f"<@{BOT}> {question}"))
    record = _record(slack, question)
    assert record["door"] == "slack" and record["user"] == "carol@example.com" and record["via"] == "door"


def test_a_direct_message_is_answered_and_a_follow_up_in_its_thread_continues_the_conversation(slack: Slack) -> None:
    first = slack.event("DBOB", "UBOB", VPN, kind="message")
    text = slack.answer(first)
    assert _folders(text) == {"it"}  # bob's own collection, through the API key made for his address
    follow = slack.event("DBOB", "UBOB", "And after how many hours does the tunnel time out?", kind="message",
                         thread_ts=first["ts"])  # fmt: skip
    slack.answer(follow)
    before, after = _record(slack, VPN), _record(slack, follow["text"])
    assert after["turn"] == 2 and after["conversation"] == before["conversation"]


def test_an_hr_reader_asking_about_an_it_document_gets_nothing_from_it(slack: Slack) -> None:
    question = "How do I connect to the VPN and after how many hours does the tunnel time out?"
    text = slack.answer(slack.event("DALICE", "UALICE", question, kind="message"))
    assert _folders(text) <= {"hr"} and "12 hours" not in text and "vpn-setup" not in text
    assert {Path(s["path"]).parts[0] for s in _record(slack, question)["sources"]} <= {"hr"}


def test_a_channel_answers_only_from_what_every_member_may_read(slack: Slack) -> None:
    # carol reads hr and it; bob, also in CMIX, reads only it: the leave policy is not for this channel
    text = slack.answer(slack.event("CMIX", "UCAROL", f"<@{BOT}> {LEAVE}"))
    assert "hr" not in _folders(text) and "leave-policy" not in text
    assert {Path(s["path"]).parts[0] for s in _record(slack, LEAVE)["sources"]} <= {"it"}
    vpn = slack.answer(slack.event("CMIX", "UCAROL", f"<@{BOT}> {VPN}"))
    assert _folders(vpn) == {"it"}  # what all of them may read is answered
    unknown = slack.event("COPEN", "UCAROL", f"<@{BOT}> {VPN}")  # erin is known to nobody: nothing is common
    said = slack.peer.wait("chat.postMessage", "nothing said in COPEN", channel="COPEN", thread_ts=unknown["ts"])
    assert "direct message" in said.args["text"] and not slack.peer.made("chat.update", channel="COPEN")


def test_an_unmapped_person_is_refused_with_what_to_do(slack: Slack) -> None:
    event = slack.event("DERIN", "UERIN", VPN, kind="message")
    said = slack.peer.wait("chat.postMessage", "erin was not answered", thread_ts=event["ts"])
    assert "not known to the knowledge base" in said.args["text"] and "doors.people" in said.args["text"]
    assert not any(r["user"] == "erin@example.com" for r in slack.answers())
    # in a channel the refusal (which names the address) goes to erin alone
    mention = slack.event("CHR", "UERIN", f"<@{BOT}> {VPN}")
    alone = slack.peer.wait("chat.postEphemeral", "erin was not told", thread_ts=mention["ts"])
    assert alone.args["user"] == "UERIN" and not slack.peer.made("chat.postMessage", thread_ts=mention["ts"])


def test_another_bots_mention_is_not_answered(slack: Slack) -> None:
    event = slack.event("CHR", "UALICE", f"<@{BOT}> {LEAVE}", bot_id="BOTHER")
    _control(slack)
    with pytest.raises(AssertionError):  # nothing in its thread, even given a few seconds more
        slack.peer.wait_until(lambda: slack.peer.made("chat.postMessage", thread_ts=event["ts"]), "", timeout=5)


def _control(slack: Slack) -> None:
    """A valid question answered: whatever was delivered before it has been acted on by now."""
    slack.answer(slack.event("DCAROL", "UCAROL", "What is the travel policy for hotels?", kind="message"))


def test_a_wrongly_signed_or_stale_event_is_refused_and_nothing_is_posted(slack: Slack) -> None:
    forged = callback({"type": "message", "channel_type": "im", "channel": "DALICE", "user": "UALICE",
                       "text": VPN, "ts": "1700000001.000001"}, "EvForged")  # fmt: skip
    assert deliver(slack.app.url, forged, "not-the-secret").status_code == 401
    stale = {**forged, "event_id": "EvStale"}
    old = str(int(time.time()) - 6 * 60)
    assert deliver(slack.app.url, stale, SECRET, **_resigned(stale, old)).status_code == 401
    # an unsigned body Bolt could not even parse is refused on its signature, before anything reads it
    for garbage in (b"[1]", b"{not json", b"\xff\xfe"):
        r = httpx.post(f"{slack.app.url}/slack/events", content=garbage, headers={"x-slack-signature": "v0=00"})
        assert r.status_code == 401, (garbage, r.status_code)
    _control(slack)
    assert not slack.peer.made("chat.postMessage", thread_ts="1700000001.000001")


def _resigned(body: dict[str, Any], timestamp: str) -> dict[str, str]:
    import json

    from eval.bench.slack_peer import signed

    return signed(json.dumps(body).encode(), SECRET, int(timestamp))


def test_a_retried_event_is_answered_once(slack: Slack) -> None:
    event = slack.event("DCAROL", "UCAROL", "Who approves expense reports?", kind="message")
    slack.answer(event)
    retry = deliver(slack.app.url, callback(event, f"Ev{event['ts']}"), SECRET, **{"x-slack-retry-num": "1",
                    "x-slack-retry-reason": "http_timeout"})  # fmt: skip
    assert retry.status_code == 200
    _control(slack)
    assert len(slack.peer.made("chat.postMessage", thread_ts=event["ts"])) == 1


def test_a_thumbs_reaction_from_the_asker_becomes_feedback(slack: Slack) -> None:
    from serving.store.feedback import FeedbackStore

    question = "How many days of parental leave are there?"
    event = slack.event("CHR", "UALICE", f"<@{BOT}> {question}")
    slack.answer(event)
    answer_ts = slack.peer.made("chat.postMessage", thread_ts=event["ts"])[0].answer["ts"]
    seq = _record(slack, question)["seq"]
    for user, reaction in (("UCAROL", "-1"), ("UALICE", "+1::skin-tone-3")):  # a reader's, then the asker's
        item = {"type": "message", "channel": "CHR", "ts": answer_ts}
        reacted = {"type": "reaction_added", "user": user, "reaction": reaction, "item_user": BOT, "item": item}
        assert deliver(slack.app.url, callback(reacted, f"EvReact{user}"), SECRET).status_code == 200
    rated = slack.peer.wait_until(
        lambda: [r for r in slack.audit.records(kind="feedback") if r["answer_seq"] == seq], "no feedback recorded"
    )
    assert [(r["user"], r["rating"]) for r in rated] == [("alice@example.com", 1)]  # the asker's only
    stored = [f for f in FeedbackStore(slack.feedback).all() if f["question"] == question]
    assert [f["rating"] for f in stored] == [1]


@pytest.fixture
def private(kb_index: Path, tmp_path: Path) -> Iterator[Slack]:
    limits = {"requests_per_minute": 2, "answers_per_day": 0, "concurrent_answers": 0}
    with (
        SlackPeer(TOKEN, USERS, CHANNELS) as peer,
        _slack_app(kb_index, tmp_path, peer, slack={"channel_answers": "private"}, limits=limits) as app,
    ):
        yield Slack(app, peer, AuditLog(tmp_path / "audit.sqlite"), tmp_path / "feedback.sqlite")


def test_private_channel_answers_go_to_the_asker_alone_from_their_own_collections(private: Slack) -> None:
    event = private.event("CMIX", "UCAROL", f"<@{BOT}> {LEAVE}")  # bob in the channel does not narrow it here
    said: Call = private.peer.wait("chat.postEphemeral", "no ephemeral answer", thread_ts=event["ts"])
    assert said.args["user"] == "UCAROL" and said.args["channel"] == "CMIX"
    assert _folders(said.args["text"]) == {"hr"} and "<http" not in said.args["text"]  # no public_url: plain paths
    assert not private.peer.made("chat.postMessage")
    for n in range(2):  # carol's limit is two requests a minute: the third is told to wait
        private.event("CMIX", "UCAROL", f"<@{BOT}> {VPN} ({n})")
    private.peer.wait_until(lambda: len(private.peer.made("chat.postEphemeral")) == 3, "three answers")
    said_all = [c.args["text"] for c in private.peer.made("chat.postEphemeral")]
    assert sum("Too many requests" in t for t in said_all) == 1, said_all


def test_a_slow_answer_is_announced_then_replaces_the_placeholder(kb_index: Path, tmp_path: Path) -> None:
    with (
        SlackPeer(TOKEN, USERS, CHANNELS) as peer,
        _slack_app(kb_index, tmp_path, peer, slack={"placeholder_after_s": 0}) as app,
    ):
        slow = Slack(app, peer, AuditLog(tmp_path / "audit.sqlite"), tmp_path / "feedback.sqlite")
        event = slow.event("CHR", "UALICE", f"<@{BOT}> {LEAVE}")
        shown = peer.wait("chat.postMessage", "no placeholder", thread_ts=event["ts"], text=PLACEHOLDER)
        replaced = peer.wait("chat.update", "the placeholder was never replaced", ts=shown.answer["ts"])
        assert "days" in replaced.args["text"] and replaced.args["channel"] == "CHR"
        assert len(peer.made("chat.postMessage", thread_ts=event["ts"])) == 1  # the answer took its place


def test_without_slack_settings_there_is_no_slack_route(kb_index: Path, tmp_path: Path) -> None:
    with start_app(kb_index, tmp_path, llm={"backend": "extractive"}) as app:
        body = {"type": "url_verification", "challenge": "abc"}
        r = deliver(app.url, body, SECRET)
        assert r.status_code == 404 and "abc" not in r.text


def test_socket_mode_connects_out_and_answers_what_arrives_over_it(kb_index: Path, tmp_path: Path) -> None:
    with (
        SlackPeer(TOKEN, USERS, CHANNELS, app_token=APP_TOKEN) as peer,
        _slack_app(kb_index, tmp_path, peer, slack={"signing_secret": None, "app_token": APP_TOKEN}),
    ):
        event = {"type": "message", "channel_type": "im", "channel": "DALICE", "user": "UALICE", "text": LEAVE,
                 "ts": "1700000002.000001"}  # fmt: skip
        peer.push({"envelope_id": "env-1", "type": "events_api", "accepts_response_payload": False,
                   "payload": callback(event, "EvSocket")})  # fmt: skip
        peer.wait_until(lambda: any(m.get("envelope_id") == "env-1" for m in peer.received), "no acknowledgement")
        text = peer.wait("chat.postMessage", "no answer", thread_ts=event["ts"]).args["text"]
        assert _folders(text) == {"hr"}
