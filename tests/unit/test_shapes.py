"""What the API and the page both read from a request: the question and the conversation before it."""

from __future__ import annotations


def test_the_question_is_the_last_user_message_that_says_something() -> None:
    from serving.shapes import asked
    from serving.web.schemas import ChatMessage

    said = [
        ChatMessage(role="system", content="Be brief."),
        ChatMessage(role="user", content="How many days of leave?"),
        ChatMessage(role="assistant", content="25 days [1]."),
        ChatMessage(role="user", content="And part-time staff?"),
        ChatMessage(role="user", content="   "),
    ]
    assert asked(said) == (
        "And part-time staff?",
        [{"role": "user", "content": "How many days of leave?"}, {"role": "assistant", "content": "25 days [1]."}],
    )
    assert asked([ChatMessage(role="user", content=" ")]) is None
