"""The one database helper behind every store (conversations, feedback, keys and sessions, the audit trail): opens
SQLite (a path) or PostgreSQL (a postgresql:// URL), applies the store's versioned migrations once, in order, and
turns a store that cannot be opened into StoreUnavailable naming the store and the setting to check.

SQLite keeps the schema's version in `PRAGMA user_version`, PostgreSQL in a table `schema_version` (a row per
migration applied; the version is the highest). A migration is a string of `;`-separated statements; all pending
ones run in one write transaction, which re-reads the version first, so two processes opening a new store together
migrate it once. It lives in configs, below every stage, because ingest appends to the audit trail too.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from configs.errors import ConfigError, StoreUnavailable

PG_MIGRATION_LOCK = 7301  # an advisory lock: two servers starting at once, one migrates, the other finds it done


class Db:
    """One connection to SQLite or PostgreSQL behind the few calls the stores make (`?` placeholders)."""

    def __init__(self, conn: Any, postgres: bool) -> None:
        self.conn = conn
        self.postgres = postgres

    def execute(self, sql: str, args: tuple[Any, ...] | list[Any] = ()) -> Any:
        return self.conn.execute(sql.replace("?", "%s") if self.postgres else sql, tuple(args))

    def begin(self) -> None:
        """A write transaction (SQLite: IMMEDIATE, so that two writers never interleave)."""
        self.conn.execute("BEGIN" if self.postgres else "BEGIN IMMEDIATE")

    def commit(self) -> None:
        self.conn.execute("COMMIT")

    def rollback(self) -> None:
        self.conn.execute("ROLLBACK")

    @contextmanager
    def transaction(self) -> Iterator[Db]:
        """A write transaction, committed when the block ends and rolled back when it raises."""
        self.begin()
        try:
            yield self
        except BaseException:
            self.rollback()
            raise
        self.commit()

    def flush(self) -> None:
        """After removing personal data: SQLite's write-ahead log still holds the pages as they were until a
        checkpoint; copy it into the (zeroed) file and empty it. Best effort: a reader still on them delays it."""
        if not self.postgres:
            self.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        self.conn.close()


def retry_locked(step: Callable[[], None], tries: int = 100) -> None:
    """SQLite answers "database is locked" at once, without waiting, when several processes switch a new file to
    WAL or create its tables together; opening retries for up to about ten seconds."""
    for attempt in range(tries):
        try:
            step()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == tries - 1:
                raise
            time.sleep(0.1)


def migrate(db: Db, migrations: tuple[str, ...], legacy: Callable[[Db], int] | None = None) -> None:
    """Applies the migrations after the database's version, in order, in one write transaction. `legacy` gives
    the version of a SQLite file written before user_version was kept (version 0 while its tables exist)."""
    with db.transaction():
        if db.postgres:  # under the lock: two servers creating the table at once collide even with IF NOT EXISTS
            db.execute(f"SELECT pg_advisory_xact_lock({PG_MIGRATION_LOCK})")
            db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            version = int(db.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[0])
        else:
            version = int(db.execute("PRAGMA user_version").fetchone()[0])
        stored = version
        if version == 0 and legacy is not None and not db.postgres:
            version = legacy(db)
        for n, migration in enumerate(migrations[version:], start=version + 1):
            for statement in (s.strip() for s in migration.split(";")):
                if statement:
                    db.execute(statement)
            if db.postgres:
                db.execute("INSERT INTO schema_version (version) VALUES (?)", (n,))
        if not db.postgres and max(version, len(migrations)) != stored:  # a legacy file up to date gets it too
            db.execute(f"PRAGMA user_version = {max(version, len(migrations)):d}")


class Store:
    """Where one store lives and how it is opened; `connect()` gives a migrated connection, the caller closes it.

    `name` and `setting` make the error message ("cannot open the key store ...; check auth.keys_db"); `pragmas`
    run on every SQLite connection; `wal` switches a SQLite file to write-ahead logging when it is migrated;
    `legacy` gives the version of a file written before the store was versioned (see `migrate`)."""

    def __init__(
        self,
        name: str,
        setting: str,
        path: Path,
        migrations: tuple[str, ...],
        *,
        url: str | None = None,
        wal: bool = False,
        pragmas: tuple[str, ...] = (),
        legacy: Callable[[Db], int] | None = None,
    ) -> None:
        self.name, self.setting, self.path, self.url = name, setting, path, url
        self.migrations, self.wal, self.pragmas, self.legacy = migrations, wal, pragmas, legacy
        self._migrated = False  # PostgreSQL: by this process

    @property
    def where(self) -> str:
        """Where the store is, for messages (never a URL's password)."""
        if not self.url:
            return str(self.path)
        parts = urlsplit(self.url)
        return f"postgresql://{parts.hostname}:{parts.port or 5432}{parts.path}"

    def connect(self) -> Db:
        try:
            db = self._open()
        except ImportError as exc:
            raise ConfigError("storage.url needs psycopg: run `make setup`") from exc
        except Exception as exc:  # OSError, sqlite3's and psycopg's own kinds: all mean the same to the caller
            raise self._unavailable(exc) from exc
        try:
            self._prepare(db)
        except BaseException as exc:
            db.close()
            if isinstance(exc, Exception):
                raise self._unavailable(exc) from exc
            raise
        return db

    def _unavailable(self, exc: Exception) -> StoreUnavailable:
        return StoreUnavailable(
            f"cannot open the {self.name} {self.where} ({type(exc).__name__}: {exc}); check {self.setting}"
        )

    def _open(self) -> Db:
        if self.url:
            import psycopg

            return Db(psycopg.connect(self.url, autocommit=True, connect_timeout=10), True)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return Db(sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False), False)

    def _prepare(self, db: Db) -> None:
        """Migrates on the first connection (PostgreSQL) or whenever the file is behind (SQLite: a new, replaced
        or re-created file is caught at its next connection, for the price of reading one header field)."""
        if db.postgres:
            if not self._migrated:
                migrate(db, self.migrations, self.legacy)
                self._migrated = True
            return
        for pragma in self.pragmas:
            db.execute(f"PRAGMA {pragma}")
        if int(db.execute("PRAGMA user_version").fetchone()[0]) >= len(self.migrations):
            return

        def first_open() -> None:
            if self.wal:
                db.execute("PRAGMA journal_mode = WAL")  # once per file; it persists
            migrate(db, self.migrations, self.legacy)

        retry_locked(first_open)
