"""Symlinks at ingest: followed only to targets inside the ingest root and in the link's own collection."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from configs.settings import IngestSettings
from ingest.discovery import Candidate, Place, discover
from ingest.parsing import FileParser, Parsed


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """docs/{hr,it} with a secret in it/ and another outside docs/, and links of every kind inside hr/."""
    docs = tmp_path / "docs"
    (docs / "hr" / "deep").mkdir(parents=True)
    (docs / "it").mkdir()
    (tmp_path / "outside").mkdir()
    (docs / "hr" / "leave.md").write_text("# Leave\n\nThirty days of leave.\n")
    (docs / "hr" / "deep" / "pay.md").write_text("# Pay\n\nPaid monthly.\n")
    (docs / "it" / "secret.md").write_text("# Secret\n\nThe root password is hunter2.\n")
    (tmp_path / "outside" / "passwd.md").write_text("root:x:0:0\n")
    (tmp_path / "outside" / "keys.md").write_text("key hashes\n")
    hr = docs / "hr"
    (hr / "out.md").symlink_to(tmp_path / "outside" / "passwd.md")  # a file outside the root
    (hr / "it-secret.md").symlink_to(docs / "it" / "secret.md")  # a file in another collection
    (hr / "outdir").symlink_to(tmp_path / "outside", target_is_directory=True)  # a folder outside
    (hr / "itdir").symlink_to(docs / "it", target_is_directory=True)  # another collection's folder
    (hr / "alias.md").symlink_to(hr / "leave.md")  # inside hr: allowed
    (hr / "shortcut").symlink_to(hr / "deep", target_is_directory=True)  # inside hr: allowed (walked once)
    (hr / "loop").symlink_to(hr, target_is_directory=True)  # a loop back to hr
    (docs / "hr-copy").symlink_to(hr, target_is_directory=True)  # hr's files under another collection's name
    (docs / "top.md").symlink_to(docs / "it" / "secret.md")  # root level: collection "docs", the target's is "it"
    return docs


def _discover(root: Path) -> tuple[list[Candidate], dict[str, str]]:
    skipped: dict[str, str] = {}
    found = list(discover([root.resolve()], IngestSettings(), lambda p, why: skipped.__setitem__(str(p), why)))
    return found, skipped


def test_links_out_of_the_root_or_into_another_collection_are_skipped_with_the_reason(tree: Path) -> None:
    found, skipped = _discover(tree)
    root = tree.resolve()
    reasons = {Path(p).relative_to(root).as_posix(): why for p, why in skipped.items()}
    assert "outside the ingest root" in reasons["hr/out.md"]
    assert "outside the ingest root" in reasons["hr/outdir"]
    assert "another collection ('it')" in reasons["hr/it-secret.md"]
    assert "another collection ('it')" in reasons["hr/itdir"]
    assert "another collection ('hr')" in reasons["hr-copy"]
    assert "another collection ('it')" in reasons["top.md"]
    read = {c.real for c in found}
    assert (tree / "it" / "secret.md").resolve() in read  # the file itself, in its own collection
    places = {Place.of(c.path, c.root).relpath: Place.of(c.path, c.root).collection for c in found}
    assert places.get("it/secret.md") == "it"
    assert not any(p.startswith(("hr/it", "hr/out", "hr-copy", "top")) for p in places)
    assert not any("outside" in str(c.real) for c in found)


def test_links_within_their_own_collection_are_followed_once(tree: Path) -> None:
    found, _ = _discover(tree)
    root = tree.resolve()
    by_path = {c.path.relative_to(root).as_posix(): c for c in found}
    alias = by_path["hr/alias.md"]
    assert alias.real == root / "hr" / "leave.md" and Place.of(alias.path, alias.root).collection == "hr"
    # hr/deep is reached directly and through hr/shortcut; hr/loop leads back to hr: each folder is walked once.
    assert sum(p.endswith("pay.md") for p in by_path) == 1
    assert not any(p.startswith("hr/loop/") for p in by_path)
    assert sorted(by_path) == ["hr/alias.md", "hr/deep/pay.md", "hr/leave.md", "it/secret.md"]


def test_ingesting_one_collection_follows_no_link_out_of_it(tree: Path) -> None:
    found, skipped = _discover(tree / "hr")
    assert all(str(c.real).startswith(str((tree / "hr").resolve()) + os.sep) for c in found)
    hr = (tree / "hr").resolve()
    assert "outside the ingest root" in skipped[str(hr / "it-secret.md")]
    assert "outside the ingest root" in skipped[str(hr / "itdir")]


def test_a_file_swapped_for_a_link_after_discovery_is_not_read_through_it(tree: Path, tmp_path: Path) -> None:
    found, _ = _discover(tree / "hr")
    leave = next(c for c in found if c.path.name == "leave.md")
    assert not isinstance(FileParser.read(leave), Parsed)  # readable as found
    leave.path.unlink()
    leave.path.symlink_to(tmp_path / "outside" / "keys.md")
    result = FileParser.read(leave)
    assert isinstance(result, Parsed) and result.error is not None and "cannot read" in result.error
