"""The verifier on answers worded as a model words them: numbers written another way, derived word forms, bare
yes/no answers; and on plausible wrong ones: a value of another subject, values swapped between subjects."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from serving.answer.verify.verifier import FeatureVerifier, verify_answer

MEMORY = """Resource Consumption > Memory
work_mem (integer)
Sets the base maximum amount of memory to be used by a query operation. The default is four megabytes (4MB).
hash_mem_multiplier (floating point)
Used to compute the maximum amount of memory that hash-based operations can use. The default value is 2.0, which \
makes hash-based operations use twice the usual work_mem base amount."""
PASSWORDS = "Password Policy\nPasswords expire after two weeks. Every password must be at least 14 characters long."
BANDS = (
    "The New Pornographers is a Canadian indie rock band formed in 1997 in Vancouver, British Columbia.Kings of Leon "
    "is an American rock band that formed in Nashville, Tennessee, in 1999."
)
FILMS = (
    "A Tiger Walks is a 1964 family drama film, directed by Norman Tokar and produced by Walt Disney Productions.A "
    "Kid in King Arthur's Court is a 1995 Disney family film directed by Michael Gottlieb."
)
TORSION = "Torsion was suspected preoperatively in 94% of the detorsion cases and in 47% of the oophorectomy patients."
CLUB = (
    "Aaron Galindo is a Mexican football center back, who is playing for C.D. Toledo in Spain.Club Deportivo Toledo "
    "is a Spanish football team based in Toledo. Founded in 1928 it plays in Segunda Division B."
)


@pytest.fixture(scope="module")
def verifier() -> FeatureVerifier:
    return FeatureVerifier()


@pytest.mark.parametrize(
    ("claim", "source"),
    [
        ("Passwords expire after 14 days.", PASSWORDS),
        ("Passwords expire after 2 weeks.", PASSWORDS),
        ("A password must be at least fourteen characters long.", PASSWORDS),
        ("The default of work_mem is 4 megabytes.", MEMORY),
        ("The default of work_mem is 4096 kB.", MEMORY),
    ],
)
def test_a_number_written_another_way_is_still_supported(verifier: FeatureVerifier, claim: str, source: str) -> None:
    verdict = verifier.check(claim, [source], "What are the rules?")
    assert verdict.supported, verdict


@pytest.mark.parametrize(
    "claim",
    ["Passwords expire after 10 days.", "Passwords expire after three weeks.", "The default of work_mem is 8MB."],
)
def test_a_wrong_number_is_wrong_in_any_wording(verifier: FeatureVerifier, claim: str) -> None:
    verdict = verifier.check(claim, [PASSWORDS, MEMORY], "What are the rules?")
    assert not verdict.supported and any(r.startswith("numbers not in the sources") for r in verdict.reasons)


def test_a_derived_form_of_a_name_is_the_name(verifier: FeatureVerifier) -> None:
    source = (
        "Fragrant Concubine is a legend from the Uighur people of central Asia, told across the European continent."
    )
    verdict = verifier.check("The legend is told across Europe.", [source], "Where is the legend told?")
    assert verdict.supported, verdict


def test_a_bare_number_answer_is_not_lost_to_the_threshold(verifier: FeatureVerifier) -> None:
    # A bare number has the highest score a one-token answer can get; a threshold rounded up rejected them all.
    assert verify_answer(verifier, "What year was the football team Aaron Galindo plays for founded?", "1928", [CLUB])
    assert verifier.check("1928", [CLUB], "What year was the football team Aaron Galindo plays for founded?").supported


def test_a_bare_yes_or_no_is_checked_as_the_questions_statement(verifier: FeatureVerifier) -> None:
    bands = "Are both The New Pornographers and Kings of Leon American rock bands?"
    assert verifier.check("No", [BANDS], bands).supported
    assert not verifier.check("Yes.", [BANDS], bands).supported
    films = "Are A Tiger Walks and A Kid in King Arthur's Court both family films?"
    assert verifier.check("yes", [FILMS], films).supported
    # "No" needs the sources to say otherwise; silence about what is asked is not a "no".
    assert not verifier.check("No, they are not.", [FILMS], films).supported


def test_a_value_stated_for_another_subject_than_the_one_asked_is_not_an_answer(verifier: FeatureVerifier) -> None:
    question = "What is the default value of work_mem?"
    wrong = verifier.check("The default value is 2.0 [1].", [MEMORY], question)
    assert not wrong.supported
    assert any("hash_mem_multiplier, not for work_mem" in r for r in wrong.reasons), wrong.reasons
    assert verifier.check("The default is four megabytes (4MB) [1].", [MEMORY], question).supported
    # Asked about the other setting, the same sentence answers.
    assert verifier.check("The default value is 2.0 [1].", [MEMORY], "What is hash_mem_multiplier's default?").supported


def test_values_swapped_between_their_subjects_are_rejected(verifier: FeatureVerifier) -> None:
    assert verifier.check(TORSION, [TORSION]).supported
    swapped = TORSION.replace("94%", "X").replace("47%", "94%").replace("X", "47%")
    verdict = verifier.check(swapped, [TORSION])
    assert not verdict.supported and any("another subject: 47, 94" in r for r in verdict.reasons), verdict
    acquired = "In 2014 Facebook acquired WhatsApp for 19 billion dollars."
    assert verifier.check("In 2014, Facebook acquired WhatsApp.", [acquired]).supported
    assert not verifier.check("In 2014, WhatsApp acquired Facebook.", [acquired]).supported


ROLLOUT = "Release Process > Rollout\nA new version waits 4 to 6 weeks in beta. The study ran from August 2003 to \
February 2004, and 36 of 46 teams took part."
HOTEL = "Travel Policy > Hotels\nThe hotel limit is 150 euros per night in most cities and 220 euros per night in \
London, Paris and Zurich. Breakfast is included in the limit."


@pytest.mark.parametrize(
    ("claim", "moved"),
    [
        ("A new version waits 6 to 4 weeks in beta.", "6, 4"),
        ("The study ran from February 2003 to August 2004.", "February"),
        ("46 of 36 teams took part.", "36"),
    ],
)
def test_values_or_names_in_each_others_places_are_rejected(verifier: FeatureVerifier, claim: str, moved: str) -> None:
    # Every word and number of these claims is in the source sentence; only their places differ.
    verdict = verifier.check(claim, [ROLLOUT])
    assert not verdict.supported
    assert any(r.startswith(f"values or names in each other's places in the source: {moved}") for r in verdict.reasons)


def test_a_value_swapped_with_its_bracketed_share_is_out_of_place(verifier: FeatureVerifier) -> None:
    # The claim read without its brackets ("37.7 of 904") does not meet the source read whole ("(37.7%) of 904").
    source = "A total of 341 (37.7%) of 904 patients were given eradication therapy."
    verdict = verifier.check("A total of 37.7 (341%) of 904 patients were given eradication therapy.", [source])
    assert not verdict.supported and any("each other's places in the source: 37.7" in r for r in verdict.reasons)


@pytest.mark.parametrize(
    ("claim", "source"),
    [
        ("A new version waits 4 to 6 weeks in beta.", ROLLOUT),
        ("36 of 46 teams took part in the study, which ran from August 2003 to February 2004.", ROLLOUT),
        # Values told in another order, each with its subject, are in their places.
        ("In London, Paris and Zurich the limit is 220 euros per night, in most cities 150 euros.", HOTEL),
        # Bracketed asides the answer leaves out do not move the names around them.
        (
            "Accuracy compared well to Owen, Henry, Mifflin, Liu, Harris-Benedict and Yang for the whole range.",
            "Accuracy was compared to 6 equations (Harris-Benedict, Henry, Liu, Yang, Owen and Mifflin). Accuracy "
            "compared well to Owen (70 %), Henry (67 %), Mifflin (67 %), Liu (58 %), Harris-Benedict (45 %) and Yang "
            "(37 %) for the whole range.",
        ),
        # A number written in several words is one value.
        (
            "Measured by pressure, fifty-four obese individuals had a median pressure of 11.8 cmH2O.",
            "Fifty-four obese individuals had a median pressure of 11.8 cmH2O.",
        ),
        # A value at the end of the sentence in both is in its place, whatever came before it.
        (
            "50 of 74 patients reported fatigue, more than in the lupus group (108/216, p<0.0087).",
            "50 of 74 patients (68%) reported fatigue, more than in the lupus group (108/216 (50%); p<0.0087).",
        ),
    ],
)
def test_values_in_their_places_are_not_told_swapped(verifier: FeatureVerifier, claim: str, source: str) -> None:
    verdict = verifier.check(claim, [source])
    assert not any("each other's places" in r for r in verdict.reasons), verdict


EXPENSES = "Expense Claims\nClaims up to 500 euros are approved by your manager. Claims above 500 euros also need \
approval from the Finance team.\n\nApproved claims are paid with the next monthly salary run."
GIFTS = "Code of Conduct\nGifts from suppliers or customers worth more than 75 euros must be declined or reported to \
the Finance team within 5 days. Meals during business meetings are allowed."


def test_a_short_answer_told_from_two_adjacent_sentences_is_bound_to_the_question(verifier: FeatureVerifier) -> None:
    question = "Who approves expense claims above 500 euros?"
    claim = "Your manager and the Finance team [1]."
    verdict = verify_answer(verifier, question, claim, [EXPENSES])
    assert verdict.supported and verdict.score > verifier.threshold + 0.1, verdict


def test_a_clause_of_a_longer_answer_is_not_read_as_a_short_answer(verifier: FeatureVerifier) -> None:
    question = "Can I accept a gift from a supplier?"
    answer = "Gifts worth more than 75 euros must be declined or reported within 5 days; meals are allowed [1]."
    assert verify_answer(verifier, question, answer, [GIFTS]).supported
    assert not verify_answer(verifier, question, "Meals are allowed [1].", [GIFTS]).supported


def test_halueval_parts_are_fixed_by_passage_and_add_the_opposite_bare_answer(tmp_path: Path) -> None:
    from eval.training.verifier_data import halueval

    rows = [
        {
            "knowledge": f"Passage {i} about a band.",
            "question": f"Is band {i} Canadian?",
            "right_answer": "yes",
            "hallucinated_answer": f"Band {i} is from Peru.",
        }
        for i in range(60)
    ]
    path = tmp_path / "qa.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    parts = {part: halueval(path, part) for part in ("train", "tune", "validation")}
    groups = {part: {e.group for e in examples} for part, examples in parts.items()}
    assert not groups["train"] & groups["tune"] and not groups["tune"] & groups["validation"]
    assert sum(len(g) for g in groups.values()) == 60 and all(groups.values())
    assert parts == {part: halueval(path, part) for part in parts}  # the same split every time
    kinds = {e.kind: e.label for e in parts["validation"]}
    assert kinds == {"halueval-right": 1, "halueval-hallucinated": 0, "halueval-yes-no-flipped": 0}
