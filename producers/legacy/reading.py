"""Reading a CSV export row by row, with the line each row starts on.

Lines are decoded one at a time, so a stray byte in another encoding rejects its row
only; a row with more or fewer cells than the header is rejected rather than read
shifted into the wrong columns.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from producers.legacy.mapping import CsvFormat, ExportMapping, MappingError
from producers.legacy.rows import Problem, RejectedRow

_DELIMITERS = ",;\t|"
Row = tuple[int, dict[str, str] | RejectedRow]


def _decoded(raw: BinaryIO, encoding: str, bad: dict[int, str]) -> Iterator[str]:
    for number, line in enumerate(raw, start=1):
        try:
            yield line.decode(encoding)
        except UnicodeDecodeError as exc:
            byte = line[exc.start]
            bad[number] = f"not valid {encoding}: byte 0x{byte:02x} at column {exc.start + 1}"
            yield line.decode(encoding, errors="replace")


def _delimiter(header_line: str, fmt: CsvFormat) -> str:
    if fmt.delimiter is not None:
        return fmt.delimiter
    counts = {d: header_line.count(d) for d in _DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def read_rows(path: Path, mapping: ExportMapping) -> Iterator[Row]:
    """(line, cells by column) for every non-blank row after the header, or its rejection.

    Raises MappingError, before any row, if the header lacks a column the mapping names.
    """
    fmt = mapping.csv
    with path.open("rb") as raw:
        bad: dict[int, str] = {}
        lines = _decoded(raw, fmt.encoding, bad)
        first = next(lines, "")
        if 1 in bad:
            raise MappingError(str(path), [f"header line: {bad[1]} (see csv.encoding)"])
        delimiter = _delimiter(first, fmt)

        def all_lines() -> Iterator[str]:
            yield first
            yield from lines

        reader = csv.reader(all_lines(), delimiter=delimiter, quotechar=fmt.quotechar)
        header = [cell.strip() for cell in next(reader, [])]
        if problems := mapping.check_header(header):
            raise MappingError(str(path), problems)
        ended = reader.line_num
        try:
            for cells in reader:
                start, ended = ended + 1, reader.line_num
                if not any(cell.strip() for cell in cells):
                    continue
                spoilt = [bad[n] for n in range(start, ended + 1) if n in bad]
                if spoilt:
                    yield start, RejectedRow(start, tuple(Problem("(row)", p) for p in spoilt))
                elif len(cells) != len(header):
                    why = f"{len(cells)} cells where the header has {len(header)}"
                    yield start, RejectedRow(start, (Problem("(row)", why),))
                else:
                    yield start, dict(zip(header, cells, strict=True))
        except csv.Error as exc:  # e.g. a quote left open until the end of the file
            line = ended + 1
            yield line, RejectedRow(line, (Problem("(row)", f"unreadable CSV: {exc}"),))
