"""The feedback loop (`python -m serving feedback ...`, also `python -m eval feedback ...`) and the live-traffic KPIs.

- `list` shows the review queue: answers a reader marked thumbs-down (with their reason), oldest first.
- `review ID --reference TEXT [--gold FILE ...]` records the correct answer and the files it comes from;
  `dismiss ID` takes an item off the queue without making it a test.
- `export` writes every reviewed item as a QA row {question, reference, gold_sources} to
  data/eval/feedback.jsonl, which the nightly evaluation answers with the rest of data/eval/*.jsonl: each
  reviewed failure becomes a regression test.
- `kpis` prints the live-traffic numbers the nightly report carries (eval/nightly/run.py reads them here).

Both entry points run `main`; it lives in serving because it reads serving's stores only (serving never imports eval).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from configs.audit import AuditLog, cli_operator
from configs.errors import KBError
from configs.loading import load_settings
from configs.logs import configure_logging
from configs.settings import Settings

EXPORT = Path("data/eval/feedback.jsonl")
CSS_DEFINITION = (
    "Conversation Success Score = resolved conversations / all conversations in the window. A conversation is the "
    "questions one user asked in one page session (or one API message history) from the same first question; it "
    "is resolved when (1) its last answer came from the documents (not 'I could not find anything'), (2) no answer "
    "in it got a thumbs-down, and (3) it took at most {max_turns} turns (a reader who has to ask again and again "
    "was not served). Thumbs-up rate = up / (up + down)."
)


def live_kpis(settings: Settings, days: float, max_turns: int = 3, now: float | None = None) -> dict[str, Any]:
    """KPIs of the last `days` days from the audit trail's answers and feedback and the feedback store."""
    from datetime import UTC, datetime

    from serving.store.feedback import FeedbackStore

    now = time.time() if now is None else now
    since = now - days * 86400
    answers: list[dict[str, Any]] = []
    ratings: dict[int, int] = {}
    audit_path = settings.resolve(settings.audit.path)
    if settings.audit.enabled and audit_path.exists():
        log = AuditLog(audit_path)
        start = datetime.fromtimestamp(since, UTC)
        answers = list(log.records(kind="answer", since=start))
        for record in log.records(kind="feedback", since=start):
            if record.get("answer_seq") is not None and record.get("rating"):
                ratings[int(record["answer_seq"])] = int(record["rating"])
    feedback = FeedbackStore(settings.resolve(settings.serving.feedback_db))
    recent = feedback.since(since)
    up = sum(1 for f in recent if f["rating"] > 0)
    down = sum(1 for f in recent if f["rating"] < 0)
    conversations: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for a in answers:
        conversations[str(a.get("conversation") or a["seq"])].append(a)
    resolved = 0
    turns = []
    for turns_of in conversations.values():
        turns_of.sort(key=lambda a: a["seq"])
        n = max(int(a.get("turn", 1)) for a in turns_of)
        turns.append(n)
        answered = turns_of[-1].get("mode") != "no-context"
        disliked = any(ratings.get(a["seq"], 0) < 0 for a in turns_of)
        resolved += answered and not disliked and n <= max_turns
    return {
        "days": days,
        "answers": len(answers),
        "conversations": len(conversations),
        "thumbs_up": up,
        "thumbs_down": down,
        "thumbs_up_rate": round(up / (up + down), 4) if up + down else None,
        "flagged": sum(1 for f in recent if f["rating"] < 0),
        "review_queue": len(feedback.queue()),
        "abstention_rate": (
            round(sum(1 for a in answers if a.get("mode") == "no-context") / len(answers), 4) if answers else None
        ),
        "turns_per_conversation": round(statistics.fmean(turns), 3) if turns else None,
        "conversation_success_score": round(resolved / len(conversations), 4) if conversations else None,
        "definition": CSS_DEFINITION.format(max_turns=max_turns),
    }


def export_reviewed(settings: Settings, out: Path) -> int:
    """Rewrites `out` with every reviewed item (it is the store's view, so re-running is harmless)."""
    from serving.store.feedback import FeedbackStore

    rows = FeedbackStore(settings.resolve(settings.serving.feedback_db)).reviewed()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for r in rows:
            item = {"question": r["question"], "reference": r["reference"], "gold_sources": r["gold_sources"]}
            f.write(json.dumps({**item, "feedback_id": r["id"]}, ensure_ascii=False) + "\n")
    tmp.replace(out)
    return len(rows)


def cli(argv: list[str]) -> int:
    """`python -m serving feedback [--profile P] [-v] list | review ID ... | dismiss ID | export | kpis`."""
    p = argparse.ArgumentParser(prog="python -m serving feedback", description=__doc__.split("\n\n")[0])
    p.add_argument("rest", nargs=argparse.REMAINDER, help="list | review ID ... | dismiss ID | export | kpis")
    p.add_argument("--profile", help="config profile (default: default)")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    configure_logging(args.verbose)
    try:
        return main(load_settings(args.profile), args.rest, prog="python -m serving feedback")
    except KBError as exc:  # a profile that does not load, a store that cannot be opened
        print(f"error: {exc}", file=sys.stderr)
        return 1


def main(settings: Settings, argv: list[str], prog: str = "python -m eval feedback") -> int:
    from serving.store.feedback import FeedbackStore

    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command")
    ls = sub.add_parser("list", help="the review queue (the default)")
    ls.add_argument("--json", action="store_true")
    rv = sub.add_parser("review", help="record the correct answer for a flagged item")
    rv.add_argument("id", type=int)
    rv.add_argument("--reference", required=True, help="the correct answer")
    rv.add_argument("--gold", action="append", default=[], help="a file the answer comes from (repeatable)")
    ds = sub.add_parser("dismiss", help="take an item off the queue without making it a test")
    ds.add_argument("id", type=int)
    ex = sub.add_parser("export", help=f"reviewed items as a QA set (default {EXPORT})")
    ex.add_argument("--out", type=Path)
    kp = sub.add_parser("kpis", help="live-traffic KPIs (JSON)")
    kp.add_argument("--days", type=float, default=settings.eval.live_days)
    args = p.parse_args(argv)
    store = FeedbackStore(settings.resolve(settings.serving.feedback_db))
    try:
        if args.command in (None, "list"):
            queue = store.queue()
            if getattr(args, "json", False):
                for row in queue:
                    print(json.dumps(row, ensure_ascii=False))
                return 0
            if not queue:
                print("the review queue is empty")
            for row in queue:
                when = time.strftime("%Y-%m-%d %H:%M", time.localtime(row["ts"]))
                cited = ", ".join(sorted({str(s.get("relpath", "")) for s in row["sources"]})[:3])
                print(f"#{row['id']}  {when}  {row['user'] or ''}")
                print(f"  Q: {row['question'][:200]}")
                print(f"  A: {row['answer'][:300]}")
                if row["comment"]:
                    print(f"  reason: {row['comment'][:200]}")
                print(f"  sources: {cited}")
            return 0
        if args.command == "review":
            store.review(args.id, args.reference, args.gold, cli_operator())
            print(f"#{args.id} reviewed; `python -m eval feedback export` adds it to the nightly QA set")
            return 0
        if args.command == "dismiss":
            store.dismiss(args.id, cli_operator())
            print(f"#{args.id} dismissed")
            return 0
        if args.command == "export":
            out = args.out or settings.resolve(EXPORT)
            print(f"{export_reviewed(settings, out)} reviewed item(s) written to {out}")
            return 0
        if args.command == "kpis":
            print(json.dumps(live_kpis(settings, args.days, settings.eval.css_max_turns), indent=2))
            return 0
    except KBError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 2
