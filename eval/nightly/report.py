"""The nightly report as one self-contained HTML file: plots inline as PNG, no external assets."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

PER_QUESTION = (
    "verifier_faithfulness",
    "faithfulness",
    "answer_relevancy",
    "context_precision",
    "context_recall",
    "citation_validity",
)


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return "<img alt='plot' src='data:image/png;base64," + base64.b64encode(buf.getvalue()).decode() + "'>"


def _trend_plots(report: dict[str, Any]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = [*report["history"], {"run_id": report["run_id"], "metrics": report["metrics"]}]
    names = [m for m in report["metrics"] if not m.endswith(("_ms", "answer_words"))]
    if not names:
        return ""
    cols = 3
    rows = (len(names) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 2.6 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        xs = [i for i, r in enumerate(runs) if name in r["metrics"]]
        ys = [runs[i]["metrics"][name] for i in xs]
        ax.plot(xs, ys, marker="o")
        ax.set_title(name, fontsize=9)
        ax.set_xticks(xs)
        ax.set_xticklabels([runs[i]["run_id"][4:13] for i in xs], rotation=45, fontsize=6)
        ax.tick_params(axis="y", labelsize=7)
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    fig.suptitle(f"Trend over {len(runs)} comparable run(s)", fontsize=10)
    return _png(fig)


def _distributions(report: dict[str, Any]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    present = [m for m in PER_QUESTION if any(q["metrics"].get(m) is not None for q in report["questions"])]
    if not present:
        return "<p>No per-question scores (no questions, or the judge produced none).</p>"
    fig, axes = plt.subplots(1, len(present), figsize=(3.2 * len(present), 2.4), squeeze=False)
    for ax, metric in zip(axes.flat, present, strict=False):
        values = [q["metrics"][metric] for q in report["questions"] if q["metrics"].get(metric) is not None]
        ax.hist(values, bins=10, range=(0, 1))
        ax.set_title(f"{metric} (n={len(values)})", fontsize=9)
    return _png(fig)


def _table(rows: list[tuple[str, ...]], head: tuple[str, ...]) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


def _worst(report: dict[str, Any], n: int = 8) -> str:
    def key(q: dict[str, Any]) -> float:
        m = q["metrics"]
        keys = ("verifier_faithfulness", "faithfulness", "citation_validity", "answer_relevancy")
        scores = [m.get(k) for k in keys if m.get(k) is not None]
        return min(scores) if scores else 1.0

    worst = sorted(report["questions"], key=key)[:n]
    parts = []
    for q in worst:
        srcs = "".join(
            f"<li>[{s['index']}] {html.escape(s['relpath'])}: {html.escape(s['text'][:300])}</li>"
            for s in q["sources"][:3]
        )
        scores = ", ".join(f"{k}={v:.2f}" for k, v in q["metrics"].items() if isinstance(v, float))
        parts.append(
            f"<div class='q'><b>{html.escape(q['question'])}</b><br><i>{html.escape(scores)}</i>"
            f"<p>{html.escape(q['answer'])}</p><ul>{srcs}</ul></div>"
        )
    return "".join(parts) or "<p>No questions.</p>"


def _live(report: dict[str, Any]) -> str:
    """The live-traffic KPIs (audit trail and feedback), with the success score's definition."""
    live = report.get("live")
    if not live:
        return "<p>No live traffic recorded.</p>"
    names = (
        "answers", "conversations", "thumbs_up", "thumbs_down", "thumbs_up_rate", "flagged", "review_queue",
        "abstention_rate", "turns_per_conversation", "conversation_success_score",
    )  # fmt: skip
    rows: list[tuple[str, ...]] = [(k, "-" if live.get(k) is None else str(live[k])) for k in names]
    return (
        f"<p>The last {live['days']:g} days; their trend is in the Trend section (metrics named live/...).</p>"
        + _table(rows, ("KPI", "value"))
        + f"<p>{html.escape(live['definition'])}</p>"
    )


def write_html(report: dict[str, Any], path: Path) -> None:
    v = report["verdict"]
    status = "REGRESSION" if v["regressions"] else "no regression"
    regressions = (
        _table(
            [
                (r["metric"], r["against"], f"{r['value']:.4f}", f"{r['reference']:.4f}", f"{r['drop']:.4f}")
                for r in v["regressions"]
            ],
            ("metric", "against", "now", "then", "drop"),
        )
        if v["regressions"]
        else ""
    )
    metrics = _table(
        [
            (k, f"{val:.4f}" if isinstance(val, float) else val, v["best"].get(k, ""))
            for k, val in report["metrics"].items()
        ],
        ("metric", "value", "best comparable"),
    )
    failures = _table([(k, n) for k, n in report["judge_failures"].items()], ("metric", "unparsable / failed"))
    config = _table([(k, v2) for k, v2 in report["config"].items()], ("setting", "value"))
    doc = f"""<!doctype html><html><head><meta charset="utf-8"><title>Nightly evaluation {report["run_id"]}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:2px 8px;font-size:13px}}.q{{border-left:3px solid #c33;margin:1em 0;
padding-left:.6em}}.ok{{color:#2a2}}.bad{{color:#c22}}</style></head><body>
<h1>Nightly evaluation {report["run_id"]}</h1>
<p>Verdict: <b class="{"bad" if v["regressions"] else "ok"}">{status}</b> against {v["compared_runs"]} earlier
comparable run(s) (previous: {v["previous"] or "none"}). Wall time {report["seconds"]:.0f} s.
Judges: {html.escape(", ".join(f"{k}: {v}" for k, v in report.get("judges", {}).items()))}.</p>{regressions}
<h2>Metrics</h2>{metrics}
<h2>Live traffic</h2>{_live(report)}
<h2>Judge failures</h2><p>Scores the judge could not produce are counted here, not as 0.</p>{failures}
<h2>Trend</h2>{_trend_plots(report)}
<h2>Per-question distribution</h2>{_distributions(report)}
<h2>Worst questions</h2>{_worst(report)}
<h2>Configuration</h2>{config}<p>Datasets: {html.escape(str(report["datasets"]))}</p>
</body></html>"""
    path.write_text(doc, encoding="utf-8")
