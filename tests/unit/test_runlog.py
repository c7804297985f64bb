"""The ingest run log: what a run records on its index, and what /metrics reads back from it."""

from pathlib import Path

from ingest.runlog import RUNS_FILE, append_run, read_runs


def _report(new: int, skipped: list[dict[str, str]]) -> dict[str, object]:
    return {"new": new, "changed": 1, "deleted": 0, "skipped": skipped, "chunks_written": 7, "seconds": 0.5}


def test_runs_are_read_back_by_outcome_with_skip_reasons_but_never_paths(tmp_path: Path) -> None:
    assert read_runs(tmp_path) == []
    append_run(tmp_path, _report(3, [{"path": "/home/ann/secret.pdf", "reason": "corrupt PDF"}]))
    with (tmp_path / RUNS_FILE).open("a", encoding="utf-8") as out:
        out.write('{"new": 5, "chang\n')  # a line cut short by a crash
    append_run(tmp_path, _report(0, []))

    runs = read_runs(tmp_path)
    assert [run.files["new"] for run in runs] == [3, 0]
    assert runs[0].files == {"new": 3, "changed": 1, "moved": 0, "deleted": 0, "unchanged": 0}
    assert runs[0].skip_reasons == ("corrupt PDF",) and runs[1].skip_reasons == ()
    assert sum(run.chunks_written for run in runs) == 14
    assert "secret.pdf" not in (tmp_path / RUNS_FILE).read_text()
