from serving.chain import Citation, grounded, is_refusal
from serving.prompts import REFUSAL


def _c(i: int, text: str) -> Citation:
    return Citation(i, f"/d/{i}.md", f"{i}.md", "", None, "", text, 0, len(text), 1.0)


SOURCES = [_c(1, "Northwind Labs gives every employee 25 days of paid annual leave per calendar year.")]


def test_an_answer_drawn_from_its_cited_source_is_grounded() -> None:
    assert grounded("Employees get 25 days of paid annual leave per year [1].", SOURCES, [1])


def test_unsupported_or_uncited_answers_are_not() -> None:
    assert not grounded("The answer is: 2. The source is [1].", SOURCES, [1])
    assert not grounded("Employees get 25 days of paid annual leave.", SOURCES, [])


def test_refusals_are_recognised() -> None:
    assert is_refusal(REFUSAL) and is_refusal("Sorry. " + REFUSAL.lower())
