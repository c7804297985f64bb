"""The shared text helpers: one sentence splitter, numbers, content stems."""

from retrieval.text import content_stems, numbers, sentences


def test_sentences_end_at_full_stops_but_not_inside_abbreviations_initials_or_numbers() -> None:
    text = "See No. 19 and Lendley C. Black, e.g. the dean. The track is 6.213 km long. Next!"
    assert sentences(text) == [
        "See No. 19 and Lendley C. Black, e.g. the dean.",
        "The track is 6.213 km long.",
        "Next!",
    ]


def test_sentences_glued_without_a_space_are_split() -> None:
    assert sentences("It was founded in 1987.Hot Rod is a car magazine.") == [
        "It was founded in 1987.",
        "Hot Rod is a car magazine.",
    ]


def test_a_pdf_line_wrap_does_not_end_a_sentence_but_a_heading_or_list_item_does() -> None:
    pdf = "Reporting concerns\nReport harassment to your manager, to People Operations,\nor anonymously. Done."
    assert sentences(pdf) == [
        "Reporting concerns",
        "Report harassment to your manager, to People Operations,\nor anonymously.",
        "Done.",
    ]
    assert sentences("Steps:\n1. Install WireGuard [1].\n2. Import the file.") == [
        "Steps:",
        "1. Install WireGuard [1].",
        "2. Import the file.",
    ]


def test_numbers_are_read_from_digits_words_and_ordinals() -> None:
    assert numbers("1,500 euros, six weeks, the fourth day, 0.5 percent, 25th") == {1500, 6, 4, 0.5, 25}
    assert content_stems("The employees receive leave") == {"employe", "receiv", "leav"}
