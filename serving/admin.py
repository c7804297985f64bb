"""Administration from the command line: API keys, page sessions and the audit trail.

python -m serving keys create USER --groups G1,G2     the new key alone on the last line of stdout
python -m serving keys list | revoke KEY_ID_OR_USER   (revoking also ends the page sessions opened with the keys)
python -m serving sessions list | revoke USER         (USER: a user id, e.g. oidc:1a2b3c4d:SUB, or a shown name)
python -m serving audit export [--since YYYY-MM-DD] [--user U] [--all] [--json]
python -m serving audit check | erase --user U | prune
    erase also deletes the user's conversations, stored responses and feedback; prune also removes conversations
    older than storage.retention_days
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime

from configs.audit import AuditLog, cli_operator
from configs.errors import ConfigError, KBError
from configs.loading import load_settings
from configs.settings import Settings
from serving.access.identity import parse_groups
from serving.access.keys import KeyStore
from serving.store.conversations import ConversationStore
from serving.store.feedback import FeedbackStore


def _when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M") if ts else "-"


def keys_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m serving keys", description="personal API keys (stored hashed)")
    p.add_argument("--profile", help="config profile: configs/<profile>.yaml")
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("create", help="create a key for USER; prints it once, on the last line")
    c.add_argument("user")
    c.add_argument("--groups", default="", help="comma-separated groups (access.groups maps them to collections)")
    sub.add_parser("list", help="keys with their user, groups and state (never the keys themselves)")
    r = sub.add_parser("revoke", help="revoke a key by its id, or every key of a user (and end their page sessions)")
    r.add_argument("key")
    args = p.parse_args(argv)
    try:
        settings = load_settings(args.profile)
        store = KeyStore(settings.resolve(settings.auth.keys_db))
        audit = _audit(settings)
        if args.command == "create":
            groups = parse_groups(args.groups)
            unknown = sorted(g for g in groups if g not in settings.access.groups and g not in settings.access.upload)
            record, key = store.create(args.user, groups)
            if audit:
                audit.append(
                    "key.create", cli_operator(), {"key_id": record.id, "for": record.user, "groups": sorted(groups)}
                )
            note = f" (not in access.groups yet: {', '.join(unknown)})" if unknown else ""
            if not groups:
                note = " (no groups: this key can sign in but read nothing until it is given some)"
            print(f"created key {record.id} for {record.user}, groups: {', '.join(sorted(groups)) or '-'}{note}")
            print("store it now; it is not shown again:")
            print(key)
        elif args.command == "list":
            for k in store.records():
                state = f"revoked {_when(k.revoked)}" if k.revoked else "active"
                print(
                    f"{k.id}  {k.user:<20} {','.join(sorted(k.groups)) or '-':<24} created {_when(k.created)}  {state}"
                )
        else:
            revoked = store.revoke(args.key)
            if not revoked:
                print(f"error: no active key with id or user {args.key!r}; see `keys list`", file=sys.stderr)
                return 1
            for k in revoked:
                if audit:
                    audit.append("key.revoke", cli_operator(), {"key_id": k.id, "for": k.user})
                print(f"revoked key {k.id} of {k.user}")
    except KBError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def sessions_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="python -m serving sessions",
        description="the page's sign-in sessions (kept in auth.keys_db; a revoked session's cookie is refused)",
    )
    p.add_argument("--profile", help="config profile: configs/<profile>.yaml")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="open sessions: user id, shown name, how they signed in, when they expire")
    r = sub.add_parser(
        "revoke",
        help="end every page session of a user (user id or shown name); "
        "they can sign in again unless the key is revoked or the provider refuses them",
    )
    r.add_argument("user")
    args = p.parse_args(argv)
    try:
        settings = load_settings(args.profile)
        sessions = KeyStore(settings.resolve(settings.auth.keys_db)).sessions
        if args.command == "list":
            for s in sessions.records():
                via = f"key {s.key_id}" if s.key_id else s.via
                print(f"{s.user:<32} {s.name or '-':<24} {via:<14} since {_when(s.created)}  until {_when(s.expires)}")
        else:
            ended = sessions.end_user(args.user)
            if not ended:
                print(f"error: no open session of {args.user!r}; see `sessions list`", file=sys.stderr)
                return 1
            audit = _audit(settings)
            for user in sorted({s.user for s in ended}):
                n = sum(1 for s in ended if s.user == user)
                if audit:
                    audit.append("session.revoke", cli_operator(), {"for": user, "sessions": n})
                print(f"ended {n} session{'s' if n > 1 else ''} of {user}")
    except KBError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _audit(settings: Settings) -> AuditLog | None:
    return AuditLog(settings.resolve(settings.audit.path)) if settings.audit.enabled else None


def _conversations(settings: Settings) -> ConversationStore:
    storage = settings.storage
    url = storage.url.get_secret_value() if storage.url else None
    return ConversationStore(settings.resolve(storage.conversations_db), url)


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {what}" for what, n in counts.items())


def audit_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m serving audit", description="the audit trail")
    p.add_argument("--profile", help="config profile: configs/<profile>.yaml")
    sub = p.add_subparsers(dest="command", required=True)
    e = sub.add_parser("export", help="answered questions as JSON lines (with --all: every record)")
    e.add_argument("--since", help="YYYY-MM-DD (UTC), inclusive")
    e.add_argument("--user")
    e.add_argument("--all", action="store_true", help="also feedback, sign-ins and admin actions")
    e.add_argument("--json", action="store_true", help="JSON lines (the default; kept for scripts)")
    sub.add_parser("check", help="verify the hash chain; exit 1 and name the record if it was tampered with")
    er = sub.add_parser(
        "erase", help="a data subject's request: blank their records, delete their conversations and feedback"
    )
    er.add_argument("--user", required=True)
    sub.add_parser(
        "prune", help="remove records older than audit.retention_days, conversations older than storage.retention_days"
    )
    args = p.parse_args(argv)
    try:
        settings = load_settings(args.profile)
        log = AuditLog(settings.resolve(settings.audit.path))
        if args.command == "export":
            since = None
            if args.since:
                try:
                    since = datetime.fromisoformat(args.since).replace(tzinfo=UTC)
                except ValueError as exc:
                    raise ConfigError(f"--since {args.since!r} is not a date; use YYYY-MM-DD") from exc
            for record in log.records(None if args.all else "answer", args.user, since):
                print(json.dumps(record, ensure_ascii=False))
        elif args.command == "check":
            result = log.check()
            if not result.ok:
                print(f"TAMPERED: {result.problem}", file=sys.stderr)
                return 1
            print(f"ok: {result.records} records ({result.erased} erased on request), head {result.head}")
        elif args.command == "erase":
            n = log.erase_user(args.user, cli_operator())
            print(f"erased {n} records of {args.user}; the chain still verifies (`audit check`)")
            gone = _conversations(settings).erase_user(args.user)
            feedback = FeedbackStore(settings.resolve(settings.serving.feedback_db)).erase_user(args.user)
            print(f"deleted {_counts(gone)} and {feedback} feedback entries of {args.user}")
        else:
            print(f"pruned {log.prune(settings.audit.retention_days, cli_operator())} records")
            print(f"pruned {_counts(_conversations(settings).prune(settings.storage.retention_days))}")
    except KBError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
