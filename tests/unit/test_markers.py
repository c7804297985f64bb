"""Citation markers: which sentence a marker belongs to, the numbers it cites, the text without it."""

from retrieval.text import sentences
from serving.answer.markers import attach_markers, marker_numbers, strip_markers


def test_markers_after_the_full_stop_belong_to_the_sentence_before() -> None:
    parts = attach_markers(sentences("Claims are paid monthly. [2] Receipts are needed [1]."))
    assert parts == ["Claims are paid monthly. [2]", "Receipts are needed [1]."]
    assert marker_numbers("a [1] b [2, 3]") == [1, 2, 3]
    assert strip_markers("Receipts are needed [1].") == "Receipts are needed."
