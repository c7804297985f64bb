"""Team deployment building blocks: scopes and access rules, API keys, the audit chain, rate limits."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from configs.audit import AuditLog
from configs.settings import AccessSettings, LimitsSettings
from retrieval.filters import EVERYTHING, Filter, Scope
from serving.access.identity import LOCAL, Access, Identity, parse_groups
from serving.access.keys import KeyStore
from serving.access.quotas import OverLimit, Quotas

# --- scopes and access --------------------------------------------------------------------------------------


def test_a_scope_narrows_a_filter_and_never_widens_it() -> None:
    scope = Scope(frozenset({"hr", "it"}))
    assert scope.restrict(Filter()) == Filter(collections=("hr", "it"))
    assert scope.restrict(Filter(collections=("hr",))) == Filter(collections=("hr",))
    # a filter naming a collection outside the scope keeps only the allowed part ...
    assert scope.restrict(Filter(collections=("hr", "finance"))) == Filter(collections=("hr",))
    # ... and naming only forbidden ones matches nothing at all
    assert scope.restrict(Filter(collections=("finance",))) is None
    assert Scope(frozenset()).restrict(Filter()) is None
    assert EVERYTHING.restrict(Filter(collections=("finance",))) == Filter(collections=("finance",))
    assert scope.allows("hr") and not scope.allows("finance") and EVERYTHING.allows("finance")


def test_groups_grant_the_union_of_their_collections_and_no_group_grants_nothing() -> None:
    access = Access(AccessSettings(groups={"hr": ["policies"], "it": ["runbooks"], "admins": ["*"]}))
    alice = Identity("alice", frozenset({"hr", "it"}), "key")
    assert access.read_scope(alice) == Scope(frozenset({"policies", "runbooks"}))
    assert access.read_scope(Identity("root", frozenset({"admins"}), "oidc")) == EVERYTHING
    assert access.read_scope(Identity("nobody", frozenset(), "key")) == Scope(frozenset())
    assert access.read_scope(Identity("mallory", frozenset({"unknown"}), "oidc")) == Scope(frozenset())
    assert access.read_scope(LOCAL) == EVERYTHING  # authentication off: the one local user


def test_upload_rights_are_separate_from_read_rights() -> None:
    access = Access(AccessSettings(groups={"hr": ["policies"]}, upload={"hr-editors": ["policies"]}))
    reader = Identity("bob", frozenset({"hr"}), "key")
    editor = Identity("eve", frozenset({"hr", "hr-editors"}), "key")
    assert access.upload_scope(reader) == Scope(frozenset())
    assert access.upload_scope(editor).allows("policies") and not access.upload_scope(editor).allows("runbooks")


def test_group_lists_are_parsed_from_text_or_claims() -> None:
    assert parse_groups("hr, it,,") == frozenset({"hr", "it"})
    assert parse_groups(["hr", " ", "it"]) == frozenset({"hr", "it"})


# --- API keys -----------------------------------------------------------------------------------------------


def test_keys_are_stored_hashed_and_stop_working_when_revoked(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "auth.sqlite")
    assert not store.any_active()
    record, key = store.create("alice", frozenset({"hr"}))
    assert key.startswith(f"kb-{record.id}-") and store.any_active()
    with sqlite3.connect(tmp_path / "auth.sqlite") as db:
        stored = " ".join(str(v) for row in db.execute("SELECT * FROM keys") for v in row)
    assert key.split("-", 2)[2] not in stored  # only a hash of the secret is kept
    verified = store.verify(key)
    assert verified is not None and verified.user == "alice" and verified.groups == frozenset({"hr"})
    assert store.verify(key[:-1] + ("A" if key[-1] != "A" else "B")) is None  # wrong secret
    assert store.verify("kb-nothing") is None and store.verify("") is None
    other_record, other = store.create("bob", frozenset())
    assert [k.id for k in store.revoke("alice")] == [record.id]
    assert store.verify(key) is None and store.verify(other) is not None and store.any_active()
    store.revoke(other_record.id)
    assert not store.any_active()


# --- the audit trail ----------------------------------------------------------------------------------------


def _trail(tmp_path: Path) -> AuditLog:
    log = AuditLog(tmp_path / "audit.sqlite")
    log.append("answer", "alice", {"question": "How much is the Paris hotel limit?", "answer": "220 euros"})
    log.append("answer", "bob", {"question": "VPN reset?", "answer": "Use the portal."})
    log.append("key_create", "cli:admin", {"for": "alice", "key": "abcd"})
    log.append("answer", "alice", {"question": "On-call pay?", "answer": "300 euros a week"})
    return log


def _sql(log: AuditLog, statement: str, *args: object) -> None:
    with sqlite3.connect(log.path) as db:
        db.execute(statement, args)


def test_an_untouched_chain_checks_out(tmp_path: Path) -> None:
    log = _trail(tmp_path)
    check = log.check()
    assert check.ok and check.records == 4 and check.problem is None and len(check.head) == 64
    assert [r["question"] for r in log.records(kind="answer", user="alice")] == [
        "How much is the Paris hotel limit?",
        "On-call pay?",
    ]


@pytest.mark.parametrize(
    "statement, args, problem",
    [
        ("UPDATE records SET body = ? WHERE seq = 2", (json.dumps({"question": "x", "answer": "y"}),), "content"),
        ("UPDATE records SET user = ? WHERE seq = 1", ("mallory",), "content"),
        ("UPDATE records SET kind = 'feedback' WHERE seq = 3", (), "time, kind or digest"),
        ("DELETE FROM records WHERE seq = 2", (), "missing"),
        ("UPDATE records SET user = NULL, body = NULL, salt = NULL WHERE seq = 2", (), "without an erase record"),
    ],
)
def test_any_change_to_a_record_is_reported(tmp_path: Path, statement: str, args: tuple, problem: str) -> None:
    log = _trail(tmp_path)
    _sql(log, statement, *args)
    check = log.check()
    assert not check.ok and problem in (check.problem or "")


def test_a_rewritten_record_with_a_recomputed_digest_still_breaks_the_chain(tmp_path: Path) -> None:
    from configs.audit import _digest

    log = _trail(tmp_path)
    body = json.dumps({"answer": "25 euros", "question": "How much is the Paris hotel limit?"}, sort_keys=True)
    _sql(log, "UPDATE records SET body = ?, digest = ? WHERE seq = 1", body, _digest("s", "alice", body))
    _sql(log, "UPDATE records SET salt = 's' WHERE seq = 1")
    check = log.check()
    assert not check.ok and "record 1" in (check.problem or "")


def test_erasing_a_user_blanks_their_records_and_keeps_the_chain_valid(tmp_path: Path) -> None:
    log = _trail(tmp_path)
    assert log.erase_user("alice", by="cli:dpo") == 3  # two answers and the key created for them
    assert [r["user"] for r in log.records()] == ["bob", "cli:dpo"]
    erase = list(log.records(kind="erase"))[0]
    assert erase["records"] == [1, 3, 4]
    check = log.check()
    assert check.ok and check.erased == 3
    with sqlite3.connect(log.path) as db:
        assert "Paris" not in " ".join(str(v) for row in db.execute("SELECT * FROM records") for v in row)


def test_pruning_keeps_the_remaining_chain_verifiable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import configs.audit as audit

    log = _trail(tmp_path)
    assert log.prune(0) == 0 and log.prune(365) == 0 and log.check().ok  # 0 keeps all; nothing is a year old

    real = audit.datetime

    class AYearLater(real):  # type: ignore[misc, valid-type]
        @classmethod
        def now(cls, tz=None):  # type: ignore[no-untyped-def]
            return real.now(tz) + audit.timedelta(days=400)

    with monkeypatch.context() as later:
        later.setattr(audit, "datetime", AYearLater)
        assert log.prune(365) == 4
    check = log.check()
    assert check.ok and check.records == 1  # the prune record, chained to the anchor left by the removed ones
    log.append("answer", "carol", {"question": "q", "answer": "a"})
    assert log.check().ok
    _sql(log, "DELETE FROM anchor")
    assert not log.check().ok  # the anchor is what the first remaining record must follow


# --- rate limits ----------------------------------------------------------------------------------------------


def test_requests_over_the_minute_limit_are_refused_with_a_retry_time_for_that_identity_only() -> None:
    quotas = Quotas(LimitsSettings(requests_per_minute=3, answers_per_day=0, concurrent_answers=0))
    for _ in range(3):
        quotas.request("user:alice")
    with pytest.raises(OverLimit) as refused:
        quotas.request("user:alice")
    assert 1 <= refused.value.retry_after <= 60 and "3 a minute" in str(refused.value)
    quotas.request("user:bob")  # others are still served


def test_concurrent_answers_are_capped_and_released_and_the_daily_count_holds() -> None:
    quotas = Quotas(LimitsSettings(requests_per_minute=0, answers_per_day=3, concurrent_answers=2))
    first, second = quotas.start_answer("user:a"), quotas.start_answer("user:a")
    with pytest.raises(OverLimit, match="in progress"):
        quotas.start_answer("user:a")
    first()
    first()  # releasing twice gives back one slot only
    third = quotas.start_answer("user:a")
    with pytest.raises(OverLimit, match="in progress"):
        quotas.start_answer("user:a")
    second(), third()
    with pytest.raises(OverLimit, match="daily limit") as refused:
        quotas.start_answer("user:a")
    assert refused.value.retry_after > 3600
