from pathlib import Path
from typing import Any

import pytest

from configs.settings import ChunkingSettings
from ingest.chunking import Chunker
from ingest.formats import default_loaders
from ingest.loaders import Document, Section, file_type_of
from tests.conftest import SAMPLE

LONG = "\n\n".join(
    f"Paragraph {i}. " + " ".join(f"The quarterly report number {i}-{j} lists revenue and costs." for j in range(12))
    for i in range(8)
)


def _chunker(embedder: Any, **kw: Any) -> Chunker:
    return Chunker(ChunkingSettings(**kw), embedder, embedder.max_tokens)


def test_no_chunk_exceeds_the_embedders_budget(embedder: Any) -> None:
    chunker = _chunker(embedder, max_tokens=64)
    doc = Document(Path("r.txt"), "txt", "Annual report", (Section(LONG), Section("x" * 5000)))
    pieces = chunker.split(doc)
    assert len(pieces) > 10
    for piece in pieces:
        assert embedder.count_tokens(piece.embed_text) <= 64
        # the count the ingest report sums (tokens_embedded) is the embedder's own, within a token of a join
        assert abs(piece.tokens - embedder.count_tokens(piece.embed_text)) <= 1


def test_offsets_locate_each_chunk_verbatim_in_its_section(embedder: Any) -> None:
    doc = Document(Path("r.txt"), "txt", "Annual report", (Section(LONG, page=3, heading="Costs"),))
    for piece in _chunker(embedder, max_tokens=80).split(doc):
        assert doc.sections[piece.section_index].text[piece.start : piece.end] == piece.text
        assert piece.page == 3


def test_paragraph_boundaries_are_preferred(embedder: Any) -> None:
    pieces = _chunker(embedder, max_tokens=200).split(Document(Path("r.txt"), "txt", "", (Section(LONG),)))
    assert all(p.text.startswith("Paragraph") for p in pieces)


def test_title_and_heading_prefix_the_embedded_text_only(embedder: Any) -> None:
    path = SAMPLE / "hr" / "leave-policy.md"
    doc = default_loaders()[file_type_of(path) or ""].load(path, path.read_bytes())
    pieces = _chunker(embedder).split(doc)
    sick = next(p for p in pieces if "doctor's note" in p.text)
    assert sick.embed_text.startswith("Leave Policy > Sick leave\n")
    assert not sick.text.startswith("Leave Policy >")


@pytest.mark.parametrize("overlap", [0, 16])
def test_overlap_is_honoured(embedder: Any, overlap: int) -> None:
    doc = Document(Path("r.txt"), "txt", "", (Section(LONG),))
    pieces = _chunker(embedder, max_tokens=64, overlap_tokens=overlap).split(doc)
    overlaps = [a.end > b.start for a, b in zip(pieces, pieces[1:], strict=False)]
    assert any(overlaps) == (overlap > 0)


def _handed_on(doc: Document, pieces: list[Any], ending: str) -> int:
    """How many pieces end on a line that names what follows (it ends with `ending`), each checked to go with what
    it names: moved into the next piece when it fits, else named as the next piece's heading. Every piece must also
    be its section's text verbatim."""
    handed_on = 0
    for before, piece in zip(pieces, pieces[1:], strict=False):
        last = before.text.rstrip().splitlines()[-1]
        section = doc.sections[piece.section_index]
        if last.endswith(ending):
            assert piece.text.startswith(last) or piece.heading == f"{section.heading} > {last}", (before, piece)
            handed_on += 1
        assert section.text[piece.start : piece.end] == piece.text
    return handed_on


def test_a_heading_line_goes_with_what_it_names_not_with_the_piece_before(embedder: Any) -> None:
    # a reference page: each setting's name on its own line, then its description (HTML extraction of a manual)
    entries = []
    for i in range(8):
        entries.append(f"setting_{i} (integer)")
        entries.append(" ".join(f"Sets limit {i}-{j} for the server." for j in range(1 + i % 3)))
    doc = Document(Path("r.html"), "html", "Manual", (Section("\n".join(entries), heading="Manual > Memory"),))
    pieces = _chunker(embedder, max_tokens=48).split(doc)
    assert len(pieces) > 3
    assert _handed_on(doc, pieces, "(integer)")  # the layout does put a setting's name at the end of a piece
    assert all(embedder.count_tokens(piece.embed_text) <= 48 for piece in pieces)


def test_a_sentence_ending_on_a_colon_goes_with_the_list_it_introduces(embedder: Any) -> None:
    paragraphs = []
    for i in range(5):
        paragraphs.append(
            " ".join(f"Vacuuming step {i}-{j} keeps the tables healthy." for j in range(3))
            + f" The reasons for rule {i} are:"
        )
        paragraphs.append("\n".join(f"- reason {i}-{k} for the rule" for k in range(3)))
    doc = Document(Path("r.md"), "md", "", (Section("\n\n".join(paragraphs)),))
    pieces = _chunker(embedder, max_tokens=48).split(doc)
    ends = [p for p in pieces[:-1] if p.text.rstrip().endswith(":")]
    assert not ends, [p.text for p in ends]
    assert any(p.text.startswith("The reasons for rule") for p in pieces)
    for piece in pieces:
        assert doc.sections[piece.section_index].text[piece.start : piece.end] == piece.text
        assert embedder.count_tokens(piece.embed_text) <= 48


def test_a_question_of_its_own_goes_with_its_answer_not_with_the_piece_before(embedder: Any) -> None:
    # a FAQ: each question a paragraph of its own, then its answer (the gitfaq page's "How do I know if I want to do
    # a fetch or a pull?" ended the chunk before its answer)
    entries = []
    for i in range(8):
        entries.append(f"How do I know whether I need option {i}?")
        entries.append(" ".join(f"Option {i} stores copy {j} of the changes." for j in range(1 + i % 3)))
    doc = Document(Path("faq.html"), "html", "FAQ", (Section("\n\n".join(entries), heading="FAQ > Common issues"),))
    pieces = _chunker(embedder, max_tokens=48).split(doc)
    assert len(pieces) > 3
    assert _handed_on(doc, pieces, "?")
    assert any(p.text.startswith("How do I know whether I need option") for p in pieces[1:])


def test_the_last_line_of_a_hard_wrapped_paragraph_is_not_a_heading(embedder: Any) -> None:
    words = " ".join(f"change the configuration file {i} and restart the server so that it" for i in range(40))
    wrapped, line = [], ""
    for word in words.split():  # a plain-text file wrapped at 60 columns
        if len(line) + len(word) + 1 > 60:
            wrapped.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    wrapped.append(line + ".")
    doc = Document(Path("notes.txt"), "txt", "Notes", (Section("\n".join(wrapped), heading="Notes > Upgrades"),))
    pieces = _chunker(embedder, max_tokens=48).split(doc)
    assert len(pieces) > 3
    assert all(p.heading == "Notes > Upgrades" for p in pieces), {p.heading for p in pieces}
