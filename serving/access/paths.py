"""Paths that come from a client, checked the same way everywhere: an upload must be a file this request's upload
put in Gradio's upload folder, and a served document must be the indexed file itself, never a link out of it."""

from __future__ import annotations

import os
from pathlib import Path

from configs.errors import AccessDenied


class PathRefused(AccessDenied):
    """A path from a client names something it may not reach."""


def uploaded_file(path: str | os.PathLike[str], upload_folder: str | os.PathLike[str]) -> Path:
    """The uploaded file, if `path` is a regular file inside the upload folder reached without links; anything else
    (a server path such as /etc/passwd, an indexed document, a link planted in the folder) raises PathRefused."""
    root = Path(os.path.realpath(upload_folder))
    given = Path(os.path.abspath(path))
    real = Path(os.path.realpath(given))
    if given != real or not real.is_relative_to(root) or real == root:
        raise PathRefused(
            f"{Path(path).name or path!r} was not uploaded in this request; choose the file in the page's upload box"
        )
    if not real.is_file():
        raise PathRefused(f"{real.name}: the upload is gone or is not a file; upload it again")
    return real


def served_file(source: str) -> Path | None:
    """The indexed file at `source` when it is a regular file whose path has no link in it (ingest records the
    resolved path), else None: a document later replaced by a link to another file is not served."""
    given = Path(os.path.abspath(source))
    if Path(os.path.realpath(given)) != given or given.is_symlink() or not given.is_file():
        return None
    return given
