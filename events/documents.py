"""Documents operators write (rule files, mappings, subscriber lists, token lists): each
is parsed into a model, and every mistake is named by its path in the document."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

M = TypeVar("M")


class DocumentError(ValueError):
    """A document that cannot be used: where it came from, and each problem by path."""

    def __init__(self, origin: str, problems: Sequence[str]) -> None:
        self.origin = origin
        self.problems = list(problems)
        super().__init__(f"{origin}: " + "; ".join(self.problems))


def path_of(loc: Sequence[int | str]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def named_problems(exc: ValidationError, *, prefix: Sequence[int | str] = ()) -> list[str]:
    """``path: reason`` for every error pydantic found."""
    return [
        f"{path_of((*prefix, *err['loc']))}: {err['msg'].removeprefix('Value error, ')}"
        for err in exc.errors(include_url=False)
    ]


def validated(model: type[M], data: Any, origin: str) -> M:
    """``data`` as ``model``, or a ``DocumentError`` naming every problem."""
    try:
        if isinstance(model, type) and issubclass(model, BaseModel):
            return model.model_validate(data)
        return TypeAdapter(model).validate_python(data)
    except ValidationError as exc:
        raise DocumentError(origin, named_problems(exc)) from None
