"""The faithfulness verifier on claims a user would notice: wrong numbers, names, negation, polarity."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from serving.answer.verify.analysis import clauses
from serving.answer.verify.verifier import FeatureVerifier, verify_answer

HOTEL = "Travel Policy > Hotels\nThe hotel limit is 150 euros per night in most cities and 220 euros per night in \
London, Paris and Zurich. Breakfast is included in the limit."
SICK = "Leave Policy > Sick leave\nTell your manager before 10:00 on the first day of illness. From the fourth \
consecutive day of sick leave a doctor's note is required. Sick leave does not reduce annual leave."
PASSWORDS = "Password FAQ\nCan I use a password manager?\nYes. The company provides Bitwarden for every employee. \
Do not store work passwords in a browser's built-in password store."
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def verifier() -> FeatureVerifier:
    return FeatureVerifier()


@pytest.mark.parametrize(
    ("question", "claim", "source"),
    [
        ("What is the hotel limit in Paris?", "The hotel limit in Paris is 220 euros per night [1].", HOTEL),
        ("When is a doctor's note needed?", "A doctor's note is required from the fourth day of sick leave.", SICK),
        ("Does sick leave reduce annual leave?", "No, sick leave does not reduce annual leave.", SICK),
        ("Which password manager does the company provide?", "Bitwarden", PASSWORDS),
    ],
)
def test_supported_claims_are_accepted(verifier: FeatureVerifier, question: str, claim: str, source: str) -> None:
    verdict = verifier.check(claim, [source], question)
    assert verdict.supported, verdict


@pytest.mark.parametrize(
    ("claim", "source", "reason"),
    [
        ("The hotel limit in Paris is 25 euros per night.", HOTEL, "numbers not in the sources: 25"),
        ("The company provides LastPass for every employee.", PASSWORDS, "names not in the sources: LastPass"),
    ],
)
def test_a_number_or_name_the_sources_lack_is_never_supported(
    verifier: FeatureVerifier, claim: str, source: str, reason: str
) -> None:
    verdict = verifier.check(claim, [source], "anything")
    assert not verdict.supported and reason in verdict.reasons and verdict.score <= 0.01


def test_a_leading_question_cannot_lend_its_number_to_the_claim(verifier: FeatureVerifier) -> None:
    verdict = verifier.check("Yes, the limit in Paris is 300 euros.", [HOTEL], "Is the Paris hotel limit 300 euros?")
    assert not verdict.supported


@pytest.mark.parametrize(
    "claim",
    [
        "You can store work passwords in your browser's built-in password store.",  # negation dropped
        "A doctor's note is required from the first day of sick leave.",  # number from another rule
        "Sick leave reduces annual leave.",  # negation dropped
    ],
)
def test_contradictions_built_from_the_sources_own_words_are_rejected(verifier: FeatureVerifier, claim: str) -> None:
    verdict = verifier.check(claim, [PASSWORDS, SICK], "What are the rules?")
    assert not verdict.supported, verdict.features


def test_each_clause_is_checked_so_a_true_half_does_not_hide_a_false_one(verifier: FeatureVerifier) -> None:
    assert clauses("Claims up to 500 euros need your manager; above that, Finance approves") == [
        "Claims up to 500 euros need your manager",
        "above that, Finance approves",
    ]
    ok = "The limit is 220 euros per night in Paris, and breakfast is included in the limit."
    bad = "The limit is 220 euros per night in Paris, and dinner is paid by the customer in Berlin."
    assert verifier.check(ok, [HOTEL], "hotel limit Paris?").supported
    assert not verifier.check(bad, [HOTEL], "hotel limit Paris?").supported


def test_an_answer_is_checked_sentence_by_sentence_against_the_sources_it_cites(verifier: FeatureVerifier) -> None:
    sources = [HOTEL, SICK]
    question = "What are the rules?"
    assert verify_answer(
        verifier,
        question,
        "The Paris limit is 220 euros [1]. A doctor's note is required from the fourth day [2].",
        sources,
    ).supported
    # The second sentence cites the hotel policy for a claim only the sick-leave policy makes: checked against
    # every source, it is still supported (the chain then shows the right citation).
    assert verify_answer(
        verifier, question, "A doctor's note is required from the fourth day of sick leave [1].", sources
    ).supported
    assert not verify_answer(
        verifier,
        question,
        "The Paris limit is 220 euros [1]. A doctor's note is required from the second day [2].",
        sources,
    ).supported
    assert not verify_answer(verifier, question, "", sources).supported


def test_verify_command_prints_one_json_line_per_row_in_order(tmp_path: Path) -> None:
    rows = [
        {"question": "What is the hotel limit in Paris?", "answer": "220 euros per night [1].", "sources": [HOTEL]},
        {"question": "What is the hotel limit in Paris?", "answer": "25 euros per night [1].", "sources": [HOTEL]},
        {"question": "Does sick leave reduce annual leave?", "answer": "No, it does not.", "sources": [SICK]},
    ]
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = subprocess.run(
        [sys.executable, "-m", "serving", "verify", str(path), "--json"], cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert [sorted(x) for x in lines] == [["score", "supported"]] * 3
    assert [x["supported"] for x in lines[:2]] == [True, False]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "q"}\n')
    err = subprocess.run(
        [sys.executable, "-m", "serving", "verify", str(bad)], cwd=ROOT, capture_output=True, text=True
    )
    assert err.returncode == 2 and "bad.jsonl:1" in err.stderr and len(err.stderr.strip().splitlines()) == 1


def test_a_claim_only_two_sources_support_together_cites_those_two() -> None:
    """An uncited sentence that all the sources support together, and none alone, is cited to the pair that holds
    it: not to the first two sources whatever they say (a generated 'lock the screen after five minutes' was shown
    with the sick-leave and insurance passages as its sources). With no supporting pair it is not supported. The
    citation logic is tested with a verifier that supports a claim when the sources hold both of its facts."""
    from serving.answer.verify.verifier import Verdict, check_sentence

    class BothFacts:
        def check(self, claim: str, sources: list[str], question: str = "") -> Verdict:
            text = " ".join(sources)
            held = "encryption" in text and "5 minutes" in text
            return Verdict(held, 0.9 if held else 0.1, () if held else ("not in the sources",))

    other = ["A doctor's note is needed from the fourth day.", "The company pays 80 percent of the premium."]
    laptops, screen = "All laptops must use full-disk encryption.", "Laptops lock the screen after 5 minutes."
    claim = "All laptops use encryption and lock the screen after 5 minutes."
    verdict, cited = check_sentence(BothFacts(), claim, [*other, laptops, other[0], screen])  # type: ignore[arg-type]
    assert verdict.supported and cited == [3, 5]
    verdict, cited = check_sentence(BothFacts(), claim, [*other, laptops])  # type: ignore[arg-type]
    assert not verdict.supported and cited == []
