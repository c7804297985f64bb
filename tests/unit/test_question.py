"""The shape of a question: its parts in order and the kind of answer each asks for (no language model)."""

from __future__ import annotations

from serving.answer.question import Part, kind_of, parts


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


# --- issue 22 item 1: the question's shape -------------------------------------------------------------------------


def test_the_word_procedure_or_install_alone_does_not_make_a_procedure() -> None:
    assert kind_of("Is there a procedure for lost badges?") == "yesno"
    assert kind_of("Which version is installed by default?") == "fact"
    assert kind_of("Can I install my own software on a work laptop?") == "yesno"
    assert kind_of("Who owns the release process?") == "fact"
    assert kind_of("Which process writes the WAL?") == "fact"


def test_how_to_steps_the_procedure_for_and_install_requests_are_procedures() -> None:
    assert kind_of("What is the procedure for reporting a stolen laptop?") == "procedure"
    assert kind_of("What are the steps of a release?") == "procedure"
    assert kind_of("What is the approval process?") == "procedure"
    assert kind_of("Which procedure do I follow after a data breach?") == "procedure"
    assert kind_of("How can we configure the proxy?") == "procedure"
    assert kind_of("Install the VPN client on Linux") == "procedure"
    assert kind_of("Set up the VPN on my laptop.") == "procedure"
    assert kind_of("Can you walk me through the expense claim?") == "procedure"
    assert kind_of("Could you tell me how to reset my password?") == "procedure"
    assert kind_of("What should I do in my first week?") == "procedure"


def test_a_preposition_before_the_question_word_still_starts_a_new_part() -> None:
    assert _texts("How much is the meal per diem, and by when must I enrol?") == [
        "How much is the meal per diem?",
        "By when must I enrol?",
    ]
    assert _texts("What must every laptop use, and after how many minutes must the screen lock?") == [
        "What must every laptop use?",
        "After how many minutes must the screen lock?",
    ]
    assert _texts("Who signs the form and to whom do I send it?") == ["Who signs the form?", "To whom do I send it?"]
    assert _texts("What is the hotel limit, and in which cities is it higher?") == [
        "What is the hotel limit?",
        "In which cities is it higher?",
    ]
    assert [p.kind for p in parts("How much is the meal per diem, and for how long is it paid?")] == ["fact", "fact"]


def test_a_statement_before_a_question_is_its_context_not_a_part() -> None:
    (only,) = parts("My laptop was stolen. What should I do?")
    assert only.kind == "procedure"
    assert "laptop" in only.query and "stolen" in only.query
    (only,) = parts("I have been sick for two days. Do I need a doctor's note?")
    assert only.kind == "yesno" and "sick" in only.query
    assert kind_of("A customer gave me a gift worth 50 euros. Do I have to report it?") == "yesno"
    # a request is not context: it is a part of its own
    assert [p.kind for p in parts("Summarize the leave policy. What is the notice period?")] == ["summary", "fact"]


def test_a_statement_before_several_questions_reaches_each_of_them() -> None:
    first, second = parts("My laptop was stolen. What should I do, and who do I call?")
    assert "stolen" in first.query and first.kind == "procedure"
    assert second.text == "Who do I call?" and "laptop" in second.query


def test_a_title_or_label_folds_into_the_search_of_the_part_it_heads() -> None:
    (only,) = parts("Travel policy: what is the per diem?")
    assert only.text == "What is the per diem?" and only.kind == "fact"
    assert "Travel policy" in only.query
    (only,) = parts("Question 3 - how long are passwords?")
    assert only.text == "How long are passwords?" and "Question 3" in only.query
    (only,) = parts("Travel policy\nWhat is the per diem?")
    assert only.text == "What is the per diem?" and "Travel policy" in only.query
    first, second = parts("Travel policy: what is the per diem, and how much is the hotel limit?")
    assert [first.text, second.text] == ["What is the per diem?", "How much is the hotel limit?"]
    assert "Travel policy" in first.query and "Travel policy" in second.query
    # a colon inside a question is not a label
    assert len(parts("Which is answered sooner: a harassment report or a leave request?")) == 1


def test_shapes_that_already_worked_still_do() -> None:
    asked = parts("What must I do if my laptop is stolen, and how long must passwords be?")
    assert [p.kind for p in asked] == ["procedure", "fact"]
    assert len(parts("What are the amount, the deadline and who approves a travel claim?")) == 3
    first, second = parts("How many weeks of parental leave do birth parents get and who do I tell about it?")
    assert "parental leave" in second.query
    assert [(p.kind) for p in parts("Compare the per diem for Germany and France")] == ["comparison"]
    assert [p.kind for p in parts("Summarize the security policy")] == ["summary"]
    assert [p.kind for p in parts("What is MVCC?")] == ["definition"]
    assert parts("What is the default timeout of sqlite3.connect?") == [
        Part(
            "What is the default timeout of sqlite3.connect?", "fact", "What is the default timeout of sqlite3.connect?"
        )
    ]
    assert [p.kind for p in parts("Is X enabled by default and what is its port?")] == ["yesno", "fact"]


def test_a_yes_no_item_in_a_list_of_questions_is_a_question_not_a_listed_thing() -> None:
    assert _texts("What is the learning budget, what can I spend it on, and does unused budget carry over?") == [
        "What is the learning budget?",
        "What can I spend it on?",
        "Does unused budget carry over?",
    ]


def test_alternatives_weighed_against_each_other_are_a_comparison_a_threshold_is_not() -> None:
    assert kind_of("Is the hotel limit higher in Paris or in Berlin?") == "comparison"
    assert kind_of("Who gets more parental leave, birth parents or partners?") == "comparison"
    assert kind_of("Is the train or a plane preferred for short trips?") == "comparison"
    assert kind_of("Is the notice period longer than the probation period?") == "comparison"
    assert kind_of("Who approves claims of more than 500 euros?") == "fact"
    assert kind_of("Do claims of 500 euros or more need a receipt?") == "yesno"
    assert kind_of("Should I take the train or fly?") == "yesno"
