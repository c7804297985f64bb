"""The database helper every store opens through (configs.sqlstore): migrations run once and in order, a file at
an older version (or written before versioning) is brought up to date with its data, a failed migration leaves the
file as it was, and a store that cannot be opened says which store and which setting to check."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest

from configs.audit import AuditLog
from configs.errors import StoreUnavailable
from configs.sqlstore import Store
from serving.access.keys import KeyStore
from serving.store.conversations import ConversationStore
from serving.store.feedback import FeedbackStore

STEPS = (
    "CREATE TABLE log (n INTEGER NOT NULL); INSERT INTO log VALUES (1)",
    "ALTER TABLE log ADD COLUMN note TEXT; INSERT INTO log VALUES (2, 'second')",
    "INSERT INTO log VALUES (3, 'third')",
)


def _log(path: Path) -> tuple[list[int], int]:
    """The steps' rows in the order they were written, and the file's version."""
    with closing(sqlite3.connect(path)) as db:
        rows = [r[0] for r in db.execute("SELECT n FROM log ORDER BY rowid")]
        return rows, db.execute("PRAGMA user_version").fetchone()[0]


def test_migrations_run_once_in_order_and_an_older_file_is_brought_up_to_date(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    for _ in range(3):  # three processes, or three opens: the file is migrated once
        with closing(Store("test store", "test.path", path, STEPS[:2]).connect()) as db:
            db.execute("SELECT n FROM log").fetchall()
    assert _log(path) == ([1, 2], 2)
    with closing(Store("test store", "test.path", path, STEPS).connect()):  # the code moved on: only step 3 runs
        pass
    assert _log(path) == ([1, 2, 3], 3)


def test_a_failed_migration_leaves_the_file_at_its_version(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    Store("test store", "test.path", path, STEPS[:1]).connect().close()
    broken = (STEPS[0], "INSERT INTO log VALUES (2); INSERT INTO no_such_table VALUES (1)")
    with pytest.raises(StoreUnavailable, match=r"cannot open the test store .*no such table.*check test\.path"):
        Store("test store", "test.path", path, broken).connect()
    assert _log(path) == ([1], 1)  # the half-applied step was rolled back, version and all
    Store("test store", "test.path", path, STEPS).connect().close()
    assert _log(path) == ([1, 2, 3], 3)


def test_a_feedback_file_written_before_versioning_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "feedback.sqlite"
    with closing(sqlite3.connect(path)) as db, db:  # as the first releases wrote it: user_version 0, a user column
        db.execute(
            "CREATE TABLE feedback (id INTEGER PRIMARY KEY, ts REAL, rating INTEGER, comment TEXT, question TEXT, "
            "answer TEXT, sources TEXT, model TEXT, user TEXT)"
        )
        db.execute("INSERT INTO feedback VALUES (1, 5.0, -1, 'wrong', 'Q?', 'A.', '[]', 'm', 'ann')")
    store = FeedbackStore(path)
    assert [(r["id"], r["user"], r["status"]) for r in store.queue()] == [(1, "ann", "flagged")]
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 3


def test_a_key_file_written_before_versioning_opens_with_its_keys(tmp_path: Path) -> None:
    path = tmp_path / "auth.sqlite"
    _, key = KeyStore(path).create("ann", frozenset({"hr"}))
    with closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA user_version = 0")  # the tables as the unversioned code left them
    reopened = KeyStore(path)
    assert reopened.verify(key) is not None and [k.user for k in reopened.records()] == ["ann"]


OPEN: list[tuple[str, Callable[[Path], object]]] = [
    ("conversation store .* check storage.conversations_db", lambda p: ConversationStore(p).create("ann")),
    ("feedback store .* check serving.feedback_db", lambda p: FeedbackStore(p).all()),
    ("key store .* check auth.keys_db", lambda p: KeyStore(p).records()),
    ("audit trail .* check audit.path", lambda p: AuditLog(p).append("answer", "ann", {})),
]


@pytest.mark.parametrize(("message", "open_store"), OPEN, ids=["conversations", "feedback", "keys", "audit"])
def test_a_store_that_cannot_be_opened_names_itself_and_its_setting(
    tmp_path: Path, message: str, open_store: Callable[[Path], object]
) -> None:
    blocked = tmp_path / "a-file-not-a-folder"
    blocked.write_text("")
    with pytest.raises(StoreUnavailable, match=f"^cannot open the {message}"):
        open_store(blocked / "store.sqlite")
