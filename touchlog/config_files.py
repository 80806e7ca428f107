"""The one way touchlog reads the YAML files operators write. Reading stays here, in the
composition root; each room parses the data it owns (``parse_*``), naming every mistake."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml

from events.documents import DocumentError

T = TypeVar("T")


@dataclass(frozen=True)
class YamlFile:
    path: Path
    data: Any
    digest: str
    """SHA-256 of the text: a resumed run can tell the file changed."""


def read_yaml(path: Path) -> YamlFile:
    """The parsed document; ``DocumentError`` names the file and what is wrong with it."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DocumentError(str(path), [f"cannot read: {exc.strerror or exc}"]) from None
    return YamlFile(path, parse_yaml(text, str(path)), hashlib.sha256(text.encode()).hexdigest())


def parse_yaml(text: str, origin: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DocumentError(origin, [f"not valid YAML: {exc}"]) from None


def load(path: Path, parse: Callable[[Any, str], T]) -> T:
    """``parse(data, origin)`` of the YAML file at ``path``."""
    return parse(read_yaml(path).data, str(path))


def load_with_digest(path: Path, parse: Callable[[Any, str], T]) -> tuple[T, str]:
    """``load``, with the file's digest (a resumed import must use the same mapping)."""
    document = read_yaml(path)
    return parse(document.data, str(path)), document.digest
