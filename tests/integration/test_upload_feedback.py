"""Adding documents from the page and storing feedback, through the same objects the page calls."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from serving.access.identity import LOCAL
from tests.conftest import SAMPLE, make_settings

pytestmark = pytest.mark.integration


def test_uploaded_files_become_a_searchable_collection(tmp_path: Path, embedder: Any) -> None:
    from ingest.indexer import build_indexer
    from serving.app import Assistant

    index = tmp_path / "index"
    build_indexer(make_settings(index), embedder=embedder).run([SAMPLE / "it"])
    settings = make_settings(
        index,
        llm={"backend": "extractive"},
        serving={
            "uploads_dir": str(tmp_path / "uploads"),
            "feedback_db": str(tmp_path / "fb.sqlite"),
            "upload_max_mb": 0.01,
        },
    )
    assistant = Assistant(settings, index)
    note = tmp_path / "canteen.md"
    note.write_text("# Canteen\n\nThe canteen serves lunch from 11:30 to 14:00 on weekdays.\n")
    big = tmp_path / "big.txt"
    big.write_text("x " * 20_000)
    shutil.copy(SAMPLE / "hr" / "leave-policy.md", tmp_path / "leave-policy.md")
    message = assistant.ingest_upload([note, big, tmp_path / "leave-policy.md"], "facilities", LOCAL)
    assert "Indexed 2 file(s) into **facilities**" in message and "refused big.txt" in message
    assert "facilities" in assistant.facets(LOCAL)["collection"]
    answer = assistant.chain.answer("When does the canteen serve lunch?")
    assert "11:30" in answer.text and answer.citations[0].relpath == "canteen.md"

    fid = assistant.recorder.feedback_given(LOCAL, answer, -1, "too short")
    assistant.recorder.feedback_given(LOCAL, answer, 0, "a comment alone is no thumbs-down")
    stored = assistant.feedback.all()
    assert fid and stored[-2]["rating"] == -1 and stored[-2]["comment"] == "too short"
    assert stored[-1]["rating"] == 0 and stored[-2]["user"] == "local"
    assert stored[-2]["sources"][0]["relpath"] == "canteen.md"


def test_a_user_uploads_only_into_collections_they_may_write(tmp_path: Path, embedder: Any) -> None:
    from configs.errors import AccessDenied
    from ingest.indexer import build_indexer
    from serving.access.identity import Identity
    from serving.app import Assistant

    index = tmp_path / "index"
    build_indexer(make_settings(index), embedder=embedder).run([SAMPLE / "it"])
    settings = make_settings(
        index,
        llm={"backend": "extractive"},
        serving={"uploads_dir": str(tmp_path / "uploads"), "feedback_db": str(tmp_path / "fb.sqlite")},
        access={"groups": {"staff": ["facilities", "it"]}, "upload": {"facilities-editors": ["facilities"]}},
    )
    assistant = Assistant(settings, index)
    note = tmp_path / "canteen.md"
    note.write_text("# Canteen\n\nThe canteen serves lunch from 11:30 to 14:00 on weekdays.\n")
    reader = Identity("rita", frozenset({"staff"}), "key")
    editor = Identity("ed", frozenset({"staff", "facilities-editors"}), "key")
    with pytest.raises(AccessDenied, match="access.upload"):
        assistant.ingest_upload([note], "facilities", reader)  # may read facilities, not write to it
    with pytest.raises(AccessDenied):
        assistant.ingest_upload([note], "it", editor)  # may write to facilities only
    assert not (tmp_path / "uploads" / "it").exists()  # nothing was copied for a refused upload
    assert "Indexed 1 file(s) into **facilities**" in assistant.ingest_upload([note], "facilities", editor)
    assert "facilities" in assistant.facets(reader)["collection"]
    uploads = [r for r in assistant.recorder.audit.records(kind="upload")] if assistant.recorder.audit else []
    assert [r["user"] for r in uploads] == ["ed"] and uploads[0]["collection"] == "facilities"
