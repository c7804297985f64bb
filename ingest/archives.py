"""Zip-based formats (DOCX, PPTX) checked before parsing: a few kilobytes can declare gigabytes of XML (a
decompression bomb), so the declared sizes, entry count, compression methods and ratios are held to limits first.

Headers can lie about sizes; they cannot make a reader produce more than they declare: the parsers read entries
through Python's zipfile, which stops every entry at its declared uncompressed size (and then fails its CRC check),
and decompresses deflate in bounded steps. Only stored and deflated entries are accepted (the only methods Office
Open XML allows), since bzip2 and LZMA are not decompressed in bounded steps.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

from configs.settings import IngestSettings

MB = 1024 * 1024
RATIO_GRACE = MB  # entries smaller than this are not held to the ratio: small XML parts compress very well


@dataclass(frozen=True)
class ArchiveLimits:
    """What a zip-based document may unpack to (ingest.max_unpacked_mb, max_compression_ratio, max_archive_entries),
    and how many cells a spreadsheet or CSV file may hold (ingest.max_table_cells)."""

    max_unpacked_mb: float = 200.0
    max_compression_ratio: float = 100.0
    max_entries: int = 10_000
    max_table_cells: int = 500_000

    @classmethod
    def of(cls, settings: IngestSettings) -> ArchiveLimits:
        return cls(
            settings.max_unpacked_mb,
            settings.max_compression_ratio,
            settings.max_archive_entries,
            settings.max_table_cells,
        )


class ArchiveRefused(Exception):
    """The archive is over a limit or malformed; str() is the one-line reason."""


def check_archive(data: bytes, kind: str, limits: ArchiveLimits) -> None:
    """Raise ArchiveRefused unless the zip in data stays within the limits (nothing is decompressed here)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError) as exc:
        raise ArchiveRefused(f"not a valid {kind} (damaged zip package: {exc}); re-save it from its editor") from exc
    if len(entries) > limits.max_entries:
        raise ArchiveRefused(
            f"{kind} holds {len(entries)} parts, over ingest.max_archive_entries={limits.max_entries}; "
            "raise the limit if the file is genuine"
        )
    limit = int(limits.max_unpacked_mb * MB)
    total = packed = 0
    for entry in entries:
        if entry.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ArchiveRefused(
                f"{kind} part {entry.filename!r} uses zip compression method {entry.compress_type}; "
                "Office files use only deflate: re-save it from its editor"
            )
        ratio = entry.file_size / max(entry.compress_size, 1)
        if entry.file_size > RATIO_GRACE and ratio > limits.max_compression_ratio:
            raise ArchiveRefused(
                f"{kind} part {entry.filename!r} unpacks {ratio:.0f} times its packed size, over "
                f"ingest.max_compression_ratio={limits.max_compression_ratio:g}; refused as a possible "
                "decompression bomb: raise the limit if the file is genuine"
            )
        total += entry.file_size
        packed += entry.compress_size
        if total > limit:
            raise ArchiveRefused(
                f"{kind} unpacks to more than {limits.max_unpacked_mb:g} MB (ingest.max_unpacked_mb); "
                "refused as a possible decompression bomb: raise the limit if the file is genuine"
            )
    if total > RATIO_GRACE and total / max(packed, 1) > limits.max_compression_ratio:
        raise ArchiveRefused(
            f"{kind} unpacks {total / max(packed, 1):.0f} times its packed size, over "
            f"ingest.max_compression_ratio={limits.max_compression_ratio:g}; refused as a possible "
            "decompression bomb: raise the limit if the file is genuine"
        )
