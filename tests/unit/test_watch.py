"""The folder watcher never empties the index because a share went away (unmounted, its mount point left empty)."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ingest.indexer import build_indexer
from ingest.watch import FolderWatch
from retrieval.embeddings import FakeEmbedder
from tests.conftest import make_settings


def _until(check: Callable[[], bool], seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def _watching(share: Path, index: Path) -> tuple[FolderWatch, list[Any], threading.Thread]:
    indexer = build_indexer(make_settings(index), embedder=FakeEmbedder())
    reports: list[Any] = []
    watch = FolderWatch(indexer, [share], debounce_s=0.1, max_delay_s=1, on_report=reports.append)
    thread = threading.Thread(target=watch.run, daemon=True)
    thread.start()
    assert _until(lambda: len(reports) == 1, 120)
    return watch, reports, thread


def test_a_watched_folder_that_empties_at_once_keeps_its_files_indexed_until_it_is_back(tmp_path: Path) -> None:
    share, away = tmp_path / "mnt-share", tmp_path / "away"
    share.mkdir()
    away.mkdir()
    for i in range(3):
        (share / f"policy{i}.txt").write_text(f"Policy {i}\n\nExpenses are claimed within {i + 30} days.\n")
    watch, reports, thread = _watching(share, tmp_path / "idx")
    try:
        for f in share.iterdir():  # `umount /mnt-share`: the mount point stays, empty
            shutil.move(str(f), away / f.name)
        time.sleep(1.5)
        assert len(reports) == 1 and len(watch.indexer.manifest.files()) == 3
        shutil.move(str(away / "policy1.txt"), share / "policy1.txt")  # back (in part): applied
        assert _until(lambda: len(reports) == 2)
        assert reports[1].deleted == 2 and len(watch.indexer.manifest.files()) == 1
    finally:
        watch.stop.set()
        thread.join(10)


def test_a_watched_folder_on_another_device_than_at_the_start_is_not_applied(tmp_path: Path) -> None:
    share = tmp_path / "share"
    share.mkdir()
    (share / "a.txt").write_text("A\n\nThe first policy.\n")
    (share / "b.txt").write_text("B\n\nThe second policy.\n")
    watch, reports, thread = _watching(share, tmp_path / "idx")
    try:
        watch._devices[share.resolve()] = -1  # as if another file system were mounted there since the start
        (share / "a.txt").unlink()
        time.sleep(1.5)
        assert len(reports) == 1 and len(watch.indexer.manifest.files()) == 2
    finally:
        watch.stop.set()
        thread.join(10)
