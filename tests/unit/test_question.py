"""The shape of a question: its parts in order and the kind of answer each asks for (no language model)."""

from __future__ import annotations

from serving.question import kind_of, parts


def _texts(question: str) -> list[str]:
    return [p.text for p in parts(question)]


def test_a_simple_question_is_one_part() -> None:
    assert _texts("How many days of paid annual leave do employees get?") == [
        "How many days of paid annual leave do employees get?"
    ]
    assert _texts("Who is responsible for backups and restores?") == ["Who is responsible for backups and restores?"]


def test_several_questions_joined_by_and_are_split_in_order() -> None:
    assert _texts("What must I do if my laptop is stolen, and how long must passwords be?") == [
        "What must I do if my laptop is stolen?",
        "How long must passwords be?",
    ]
    assert _texts("How much is the meal per diem? Who approves a 700 euro claim?") == [
        "How much is the meal per diem?",
        "Who approves a 700 euro claim?",
    ]


def test_a_part_that_leans_on_the_one_before_is_searched_with_its_words() -> None:
    first, second = parts("How many weeks of parental leave do birth parents get and who do I tell about it?")
    assert second.text == "Who do I tell about it?"
    assert "parental leave" in second.query and second.query.endswith("Who do I tell about it?")


def test_a_list_of_things_asked_becomes_one_part_each_sharing_what_they_are_about() -> None:
    asked = parts("What are the amount, the deadline and who approves a travel claim?")
    assert [p.text for p in asked] == ["What is the amount?", "What is the deadline?", "Who approves a travel claim?"]
    assert all("travel claim" in p.query for p in asked)


def test_the_kind_of_answer_each_part_asks_for() -> None:
    assert kind_of("How do I set up the VPN?") == "procedure"
    assert kind_of("Give me an overview of the expense policy") == "summary"
    assert kind_of("Which is longer, the notice period or the probation period?") == "comparison"
    assert kind_of("What is MVCC?") == "definition"
    assert kind_of("What is the deadline?") == "fact"
    assert kind_of("Can I carry over unused leave?") == "yesno"
    assert kind_of("How many days of leave do I get?") == "fact"
