"""Hostile documents for tests: real DOCX decompression bombs, built on disk in a stream (no large buffers)."""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
    "</Types>"
)
RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'officeDocument" Target="word/document.xml"/></Relationships>'
)
HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
)
TAIL = "</w:body></w:document>"
PARAGRAPH = "<w:p><w:r><w:t>{}</w:t></w:r></w:p>"


def docx(path: Path, body: str) -> Path:
    """A small, valid DOCX whose body is the given WordprocessingML (paragraphs)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", CONTENT_TYPES)
        z.writestr("_rels/.rels", RELS)
        z.writestr("word/document.xml", HEAD + body + TAIL)
    return path


def docx_bomb(path: Path, unpacked_mb: float, paragraph: str = "All work and no play makes Jack a dull boy. ") -> Path:
    """A valid DOCX whose document.xml unpacks to about unpacked_mb of one repeated paragraph (a ratio of several
    hundred): a few hundred kB on disk, streamed so no buffer of that size is ever held."""
    unit = PARAGRAPH.format(paragraph * 20).encode()
    repeats = max(1, int(unpacked_mb * 1024 * 1024 / len(unit)))
    block = unit * max(1, min(repeats, (1 << 20) // len(unit)))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", CONTENT_TYPES)
        z.writestr("_rels/.rels", RELS)
        with z.open("word/document.xml", "w") as out:
            out.write(HEAD.encode())
            left = repeats
            per_block = len(block) // len(unit)
            while left > 0:
                n = min(left, per_block)
                out.write(block if n == per_block else unit * n)
                left -= n
            out.write(TAIL.encode())
    return path


def understate_sizes(path: Path, member: str, declared: int) -> None:
    """Rewrite the zip's headers so `member` declares `declared` bytes unpacked (a lying header), in place."""
    data = bytearray(path.read_bytes())
    name = member.encode()
    # Local file header: signature, ..., uncompressed size at offset 22, name length at 26, name at 30.
    pos = 0
    while (pos := data.find(b"PK\x03\x04", pos)) >= 0:
        n = struct.unpack_from("<H", data, pos + 26)[0]
        if data[pos + 30 : pos + 30 + n] == name:
            struct.pack_into("<I", data, pos + 22, declared)
        pos += 4
    # Central directory header: uncompressed size at offset 24, name length at 28, name at 46.
    pos = 0
    while (pos := data.find(b"PK\x01\x02", pos)) >= 0:
        n = struct.unpack_from("<H", data, pos + 28)[0]
        if data[pos + 46 : pos + 46 + n] == name:
            struct.pack_into("<I", data, pos + 24, declared)
        pos += 4
    path.write_bytes(bytes(data))
