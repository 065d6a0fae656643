"""Build tiny legacy .xls (BIFF8) workbooks for reader tests, without xlwt.

xlwt is unmaintained, and a committed binary fixture would hide what it contains. This
writes the few records a reader needs (BOF, DATEMODE, FONT, FORMAT, XF, BOUNDSHEET, cell
records, EOF) from the published [MS-XLS] layout and wraps the stream in a minimal
[MS-CFB] compound file (one FAT sector, one directory sector, the stream padded past the
4096-byte mini-stream cutoff so no mini FAT is needed). It is a test helper, not a writer
for users: only numbers, text, booleans and number formats are supported.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

_ENDOFCHAIN = 0xFFFFFFFE
_FREESECT = 0xFFFFFFFF
_FATSECT = 0xFFFFFFFD
_NOSTREAM = 0xFFFFFFFF


@dataclass
class XlsCell:
    """A cell value with an optional Excel number format (e.g. "dd.mm.yyyy", "[h]:mm")."""

    value: Any
    number_format: str | None = None


def _record(rtype: int, payload: bytes) -> bytes:
    return struct.pack("<HH", rtype, len(payload)) + payload


def _short_unicode(text: str) -> bytes:
    return struct.pack("<BB", len(text), 1) + text.encode("utf-16-le")


def _long_unicode(text: str) -> bytes:
    return struct.pack("<HB", len(text), 1) + text.encode("utf-16-le")


def _font() -> bytes:
    return _record(
        0x0031,
        struct.pack("<HHHHHBBBB", 200, 0, 0x7FFF, 400, 0, 0, 0, 0, 0) + _short_unicode("Arial"),
    )


def _xf(format_index: int, style: bool) -> bytes:
    flags = 0xFFF4 if style else 0x0001  # style XF: parent 0xFFF; cell XF: parent 0, locked
    return _record(
        0x00E0, struct.pack("<HHHBBBBIIH", 0, format_index, flags, 0x20, 0, 0, 0, 0, 0, 0x20C0)
    )


def build_xls(sheets: dict[str, Sequence[Sequence[Any]]], *, datemode: int = 0) -> bytes:
    """The bytes of an .xls workbook with the given sheets (rows of plain values or XlsCell).

    ``None`` leaves a cell empty; ``datetime`` values must be given as serial numbers in an
    ``XlsCell`` with a date format, as Excel stores them.
    """
    formats: dict[str, int] = {}
    for rows in sheets.values():
        for row in rows:
            for cell in row:
                if isinstance(cell, XlsCell) and cell.number_format:
                    formats.setdefault(cell.number_format, 164 + len(formats))
    # XF 0..15 are the style XFs Excel expects; XF 16 = General, then one per format.
    xf_of = {fmt: 17 + i for i, fmt in enumerate(formats)}

    globals_ = bytearray()
    globals_ += _record(0x0809, struct.pack("<HHHHII", 0x0600, 0x0005, 0x0DBB, 0x07CC, 0, 6))
    globals_ += _record(0x0042, struct.pack("<H", 1200))
    globals_ += _record(0x0022, struct.pack("<H", datemode))
    for _ in range(5):
        globals_ += _font()
    for fmt, index in formats.items():
        globals_ += _record(0x041E, struct.pack("<H", index) + _long_unicode(fmt))
    for _ in range(16):
        globals_ += _xf(0, style=True)
    globals_ += _xf(0, style=False)
    for index in formats.values():
        globals_ += _xf(index, style=False)
    boundsheet_at: list[int] = []
    for name in sheets:
        boundsheet_at.append(len(globals_))
        globals_ += _record(0x0085, struct.pack("<IH", 0, 0) + _short_unicode(name))
    globals_ += _record(0x000A, b"")

    stream = bytearray(globals_)
    for pos, rows in zip(boundsheet_at, sheets.values(), strict=True):
        struct.pack_into("<I", stream, pos + 4, len(stream))  # the sheet's BOF offset
        stream += _sheet(rows, xf_of)
    stream += b"\0" * max(0, 4096 - len(stream))
    return _compound_file(bytes(stream))


def _sheet(rows: Sequence[Sequence[Any]], xf_of: dict[str, int]) -> bytes:
    out = bytearray()
    out += _record(0x0809, struct.pack("<HHHHII", 0x0600, 0x0010, 0x0DBB, 0x07CC, 0, 6))
    ncols = max((len(r) for r in rows), default=0)
    out += _record(0x0200, struct.pack("<IIHHH", 0, len(rows), 0, ncols, 0))
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            fmt = cell.number_format if isinstance(cell, XlsCell) else None
            value = cell.value if isinstance(cell, XlsCell) else cell
            xf = xf_of[fmt] if fmt else 16
            if value is None:
                continue
            if isinstance(value, bool):
                out += _record(0x0205, struct.pack("<HHHBB", r, c, xf, int(value), 0))
            elif isinstance(value, int | float):
                out += _record(0x0203, struct.pack("<HHHd", r, c, xf, float(value)))
            else:
                out += _record(0x0204, struct.pack("<HHH", r, c, xf) + _long_unicode(str(value)))
    out += _record(0x000A, b"")
    return bytes(out)


def _compound_file(stream: bytes) -> bytes:
    sector = 512
    n = -(-len(stream) // sector)
    if n > 126:
        raise ValueError("test workbook too big for a one-sector FAT")
    header = bytearray(sector)
    header[0:8] = bytes.fromhex("D0CF11E0A1B11AE1")
    struct.pack_into("<HHHHH", header, 24, 0x003E, 0x0003, 0xFFFE, 9, 6)
    struct.pack_into("<IIIIIIII", header, 40, 0, 1, 1, 0, 4096, _ENDOFCHAIN, 0, _ENDOFCHAIN)
    struct.pack_into("<II", header, 72, 0, 0)  # no DIFAT sectors; DIFAT[0]: FAT at sector 0
    for i in range(1, 109):
        struct.pack_into("<I", header, 76 + 4 * i, _FREESECT)

    fat = [_FREESECT] * 128
    fat[0] = _FATSECT
    fat[1] = _ENDOFCHAIN
    for i in range(n):
        fat[2 + i] = 2 + i + 1 if i < n - 1 else _ENDOFCHAIN
    fat_bytes = struct.pack("<128I", *fat)

    def entry(name: str, kind: int, child: int, start: int, size: int) -> bytes:
        raw = bytearray(128)
        encoded = (name + "\0").encode("utf-16-le") if name else b""
        raw[0 : len(encoded)] = encoded
        struct.pack_into("<HBB", raw, 64, len(encoded), kind, 1)
        struct.pack_into("<III", raw, 68, _NOSTREAM, _NOSTREAM, child)
        struct.pack_into("<II", raw, 116, start, size)
        return bytes(raw)

    directory = (
        entry("Root Entry", 5, 1, _ENDOFCHAIN, 0)
        + entry("Workbook", 2, _NOSTREAM, 2, len(stream))
        + entry("", 0, _NOSTREAM, 0, 0) * 2
    )
    body = stream + b"\0" * (n * sector - len(stream))
    return bytes(header) + fat_bytes + directory + body
