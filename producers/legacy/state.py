"""Where an import got to: the file's digest and the last line the broker acknowledged.

Written atomically after every acknowledged chunk, so a re-run after a crash skips what
was sent and goes on from the next line. A changed file (or mapping) starts over: the
event ids are derived from the records, so what is sent again is deduplicated downstream.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from events.envelope import Source, UtcDatetime


@dataclass(frozen=True, slots=True)
class FileFingerprint:
    sha256: str
    lines: int


def fingerprint(path: Path) -> FileFingerprint:
    """The file's SHA-256 and its number of lines, in one pass."""
    digest = hashlib.sha256()
    lines = 0
    last = b"\n"
    with path.open("rb") as data:
        while block := data.read(1 << 20):
            digest.update(block)
            lines += block.count(b"\n")
            last = block[-1:]
    return FileFingerprint(digest.hexdigest(), lines + (last != b"\n"))


class ImportState(BaseModel):
    model_config = ConfigDict(extra="forbid")

    file: str
    file_sha256: str
    mapping_sha256: str
    source_system: str
    business_unit: str
    occurred_at: UtcDatetime
    """The time given to rows without their own; kept, so that a resumed run uses it too."""
    last_line: int = 0
    """Every row up to this line is done: published and acknowledged, or rejected."""
    complete: bool = False
    published: int = 0
    rejected: int = 0

    def continues(self, file: FileFingerprint, mapping_sha256: str, source: Source) -> bool:
        return (
            self.file_sha256 == file.sha256
            and self.mapping_sha256 == mapping_sha256
            and (self.source_system, self.business_unit) == (source.system, source.business_unit)
        )


class StateError(ValueError):
    pass


def load_state(path: Path) -> ImportState | None:
    if not path.exists():
        return None
    try:
        return ImportState.model_validate_json(path.read_bytes())
    except ValidationError as exc:
        raise StateError(
            f"{path} is not an import state file ({exc.error_count()} problems); "
            "remove it, or start over with --restart"
        ) from None


def save_state(path: Path, state: ImportState) -> None:
    """Replace the state file atomically: a crash leaves the old state or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("w", encoding="utf-8") as out:
        out.write(state.model_dump_json(indent=2))
        out.flush()
        os.fsync(out.fileno())
    temporary.replace(path)


def default_state_path(data_dir: Path, file: Path, source: Source) -> Path:
    """``DATA_DIR/imports/SYSTEM.UNIT.FILE-DIGEST.json``: one per file and source."""
    where = hashlib.sha256(str(file.resolve()).encode()).hexdigest()[:8]
    name = f"{source.system}.{source.business_unit}.{file.name}-{where}.json"
    return data_dir / "imports" / re.sub(r"[^A-Za-z0-9._-]", "_", name)


def new_state(
    file: Path,
    fingerprint_: FileFingerprint,
    mapping_sha256: str,
    source: Source,
    occurred_at: datetime,
) -> ImportState:
    return ImportState(
        file=str(file),
        file_sha256=fingerprint_.sha256,
        mapping_sha256=mapping_sha256,
        source_system=source.system,
        business_unit=source.business_unit,
        occurred_at=occurred_at,
    )
