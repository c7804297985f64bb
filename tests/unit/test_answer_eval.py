"""The answer harness's fact matching and scoring (eval/quality/answer_scoring.py), its report (answer_report.py),
and the question sets it reads (answer_sets.py)."""

import json
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest

from configs.settings import PROJECT_ROOT
from eval.quality.answer_facts import find, normalise, unsupported_numbers
from eval.quality.answer_report import report
from eval.quality.answer_scoring import match_part, score
from eval.quality.answer_sets import PartSpec, QuestionRow, expected_splits, load_set
from serving.answer.citations import Citation
from serving.answer.prompts import NO_CONTEXT
from serving.answer.results import Answer, PartResult

SETS = PROJECT_ROOT / "data" / "answers"


def _has(answer: str, fact: str) -> bool:
    return find(normalise(answer), normalise(fact)) is not None


@pytest.mark.parametrize(
    ("answer", "fact"),
    [
        ("Passwords must be at least 14 characters long [1].", "14-character"),
        ("Your manager decides within five business days.", "5 business days"),
        ("From the fourth consecutive day a doctor's note is required.", "4th consecutive day"),
        ("The budget is 1,500 euros per year.", "1500 euros"),
        ("The company pays 80% of the premium.", "80 percent"),
        ("The default timeout is 5.0 seconds.", "5 seconds"),
        ("Use full-disk encryption.", "full disk encryption"),
        ("It substitutes - instead of + in the alphabet.", "- instead of +"),
        ("Call os.makedirs(path, exist_ok=True).", "exist_ok=True"),
        ("Birth parents receive 16 weeks of fully paid leave.", "16 WEEKS"),
        ("exception subprocess.CalledProcessError: raised when ...", "CalledProcessError"),  # a dotted name's part
        ("Use subprocess.run() with capture_output=True.", "subprocess.run"),
    ],
)
def test_a_fact_in_other_words_still_counts(answer: str, fact: str) -> None:
    assert _has(answer, fact)


@pytest.mark.parametrize(
    ("answer", "fact"),
    [
        ("Birth parents receive 16 weeks of leave.", "6 weeks"),  # a number is never part of a longer one
        ("The budget is 1,500 euros.", "500 euros"),
        ("The rollout starts at 5 percent.", "0.5 percent"),
        ("The rollout continues if errors stay below 0.5 percent.", "5 percent"),
        ("Claims are approved by Finance.", "approved by your manager"),  # every word, in order
        ("The tunnel is named northwind-office.", "office northwind"),
        ("Call subprocess.check_output().", "subprocess.run"),
        ("The default is 3.8 seconds.", "8 seconds"),
    ],
)
def test_a_different_value_does_not_count(answer: str, fact: str) -> None:
    assert not _has(answer, fact)


STEPS = PartSpec(text="How do I set up the VPN", kind="procedure", facts=(("wireguard",), ("import",), ("activate",)))


def test_a_procedure_needs_its_steps_in_order() -> None:
    in_order = normalise("Install WireGuard. Import the file. Activate the tunnel.")
    shuffled = normalise("Activate the tunnel. Install WireGuard. Import the file.")
    assert match_part(in_order, STEPS).covered
    m = match_part(shuffled, STEPS)
    assert not m.covered and m.out_of_order and m.found == 3
    assert match_part(shuffled, STEPS.model_copy(update={"ordered": False})).covered


def test_a_summary_needs_min_facts_of_its_key_points() -> None:
    summary = PartSpec(text="overview", kind="summary", facts=(("30 days",), ("500 euros",), ("25th",)), min_facts=2)
    assert match_part(normalise("Submit within 30 days; paid on the 25th."), summary).covered
    assert not match_part(normalise("Submit within 30 days."), summary).covered


def test_a_wrong_value_counts_only_when_the_right_one_is_missing() -> None:
    part = PartSpec(text="who approves 700", kind="threshold", facts=(("finance team",),), wrong=("your manager",))
    assert match_part(normalise("Claims up to 500 euros are approved by your manager."), part).wrong == (
        "your manager",
    )
    both = "Claims up to 500 euros are approved by your manager. Above 500 euros the Finance team must approve too."
    assert match_part(normalise(both), part).wrong == ()
    # ...and never when it is the right value of another part of the same question
    other = PartSpec(text="who approves 300", kind="threshold", facts=(("your manager",),))
    assert match_part(normalise("approved by your manager"), part, [other]).wrong == ()


def test_numbers_the_sources_do_not_state_are_found() -> None:
    sources = ["The hotel limit is 150 euros per night and 220 euros in Paris."]
    assert unsupported_numbers("The limit is 180 euros [1].", sources, "What is the hotel limit?") == ["180"]
    assert unsupported_numbers("The limit is 150 euros [1].", sources, "What is the hotel limit?") == []
    # the question's own numbers, list item numbers and citation markers are not claims
    steps = "1. Book the hotel within 150 euros [1].\n2. Ask about the 700 euro claim [3]."
    assert unsupported_numbers(steps, sources, "Who approves a 700 euro claim?") == []


def _citation(i: int, text: str) -> Citation:
    return Citation(i, f"/d/{i}.md", f"{i}.md", "", None, "", text, 0, len(text), 1.0)


ROW = QuestionRow.model_validate(
    {
        "id": "t-1",
        "question": "How many weeks of parental leave do birth parents get and who do I tell about it?",
        "split": "tune",
        "corpus": "handbook",
        "parts": [
            {
                "text": "How many weeks do birth parents get",
                "kind": "fact",
                "facts": [["16 weeks"]],
                "wrong": ["6 weeks"],
            },
            {"text": "who do I tell about parental leave", "kind": "fact", "answerable": False},
        ],
    }
)
SOURCE = "Birth parents receive 16 weeks of fully paid parental leave. Partners receive 6 weeks."


def _answer(text: str, mode: str = "extractive", cited: tuple[int, ...] = (1,)) -> Answer:
    return Answer("q", "q", text, [_citation(1, SOURCE)], list(cited), mode, "extractive")  # type: ignore[arg-type]


def test_a_part_missing_silently_is_not_covered_and_a_named_one_is() -> None:
    silent = score(ROW, _answer("Birth parents receive 16 weeks of fully paid parental leave [1]."), 12.0)
    assert [p["covered"] for p in silent.parts] == [True, False] and not silent.covered
    named = score(
        ROW,
        _answer(
            "Birth parents receive 16 weeks of fully paid parental leave [1].\nI found nothing on who to tell "
            "about parental leave."
        ),
        12.0,
    )
    assert named.covered and named.parts[1]["named_missing"]
    wrong = score(ROW, _answer("Partners receive 6 weeks [1]."), 5.0)
    assert wrong.wrong == ["6 weeks"] and not wrong.parts[0]["covered"]
    assert wrong.parts[0]["in_sources"]  # the cited source says 16 weeks: the answer chose the wrong sentence


def test_declines_are_recognised_with_or_without_the_answers_parts() -> None:
    unanswerable = QuestionRow.model_validate(
        {
            "id": "t-2",
            "question": "What is the notice period?",
            "split": "validation",
            "corpus": "handbook",
            "answerable": False,
            "parts": [{"text": "What is the notice period", "kind": "fact", "answerable": False}],
        }
    )
    no_context = Answer("q", "q", NO_CONTEXT, [], [], "no-context", "extractive")
    assert score(unanswerable, no_context, 1.0).declined
    quoted = _answer("Partners receive 6 weeks of leave [1].")
    assert not score(unanswerable, quoted, 1.0).declined
    # where the chain reports its parts, all of them not found is a decline (Answer.parts, or kb.parts' status)
    not_found = replace(quoted, parts=(PartResult("What is the notice period", "fact", False),))
    assert score(unanswerable, not_found, 1.0).declined
    assert not score(unanswerable, replace(quoted, parts=(PartResult("notice", "fact", True, (1,)),)), 1.0).declined
    fields = {k: getattr(quoted, k) for k in ("question", "standalone_question", "text", "citations", "cited", "mode")}
    with_kb_parts = SimpleNamespace(**fields, parts=[{"text": "notice period", "status": "not found"}])
    assert score(unanswerable, with_kb_parts, 1.0).declined


def test_report_shares_per_split_and_category() -> None:
    good = score(
        ROW.model_copy(update={"split": "validation"}), _answer("16 weeks [1]. I found nothing on who to tell."), 10
    )
    bad = score(ROW, _answer("Partners receive 6 weeks [1]."), 30)
    figures = report([good, bad])
    assert figures["validation"]["fully_covered"] == 1.0 and figures["tune"]["fully_covered"] == 0.0
    assert figures["all"]["parts_covered"] == 0.5 and figures["all"]["answers_with_wrong_value"] == 1
    assert figures["all"]["by_category"]["multi"] == {"questions": 2, "fully_covered": 0.5}


def test_question_rows_are_checked_at_the_edge() -> None:
    with pytest.raises(ValueError, match="lists no facts"):
        PartSpec(text="x", kind="fact")
    with pytest.raises(ValueError, match="must list no facts"):
        PartSpec(text="x", kind="fact", facts=(("y",),), answerable=False)
    with pytest.raises(ValueError):
        PartSpec(text="x", kind="opinion", facts=(("y",),))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "least", "unanswerable"),
    [("handbook", 40, 4), ("pubmedqa", 20, 4), ("python-library", 40, 5), ("git-manual", 40, 4)],
)
def test_the_sets_keep_their_split_rule_and_facts_apart_from_questions(
    name: str, least: int, unanswerable: int
) -> None:
    rows = load_set(SETS / f"{name}.jsonl")
    corpora = json.loads((SETS / "corpora.json").read_text())
    assert len(rows) >= least and sum(r.category == "unanswerable" for r in rows) >= unanswerable
    assert {r.corpus for r in rows} <= set(corpora)
    assert len({r.id for r in rows}) == len(rows)
    assert {r.id: r.split for r in rows} == expected_splits(rows)
    for row in rows:
        asked = normalise(row.question)
        for part in row.parts:
            for group in part.facts:
                assert all(find(asked, normalise(alt)) is None for alt in group), (row.id, group)


def test_every_corpus_page_is_named_once() -> None:
    spec = json.loads((SETS / "corpora.json").read_text())["python-library"]
    assert len(spec["pages"]) == len(set(spec["pages"])) >= 100
    assert all(Path(p).suffix == ".html" and "/" not in p for p in spec["pages"])


def test_a_number_in_the_heading_the_answer_quotes_is_supported() -> None:
    from eval.quality.answer_scoring import cited_texts

    source = Citation(
        1,
        "/d/b.html",
        "b.html",
        "base64 — Base16, Base32, Base64, Base85 Data Encodings",
        None,
        "Encodings",
        "For more information, see a2b_base64().",
        0,
        40,
        1.0,
    )
    answer = Answer(
        "q",
        "q",
        "base64 — Base16, Base32, Base64, Base85 Data Encodings: For more information [1].",
        [source],
        [1],
        "extractive",
        "extractive",
    )  # type: ignore[arg-type]
    assert unsupported_numbers(answer.text, cited_texts(answer), "q") == []
