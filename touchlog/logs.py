"""structlog configuration: one event name per line; JSON objects in production, a
readable console on a terminal; personal data masked in every event.

The format is ``TOUCHLOG_LOG_FORMAT`` when set, else ``console`` when stderr is a
terminal and ``json`` when it is not. Colours only ever go to a terminal: redirected
output holds no escape codes.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, TextIO

import structlog

NAME_FIELDS = frozenset(
    {
        "name",
        "full_name",
        "given_name",
        "family_name",
        "first_name",
        "last_name",
        "middle_name",
        "display_name",
        "customer_name",
        "contact_name",
    }
)
"""Fields whose value is a person's name (anywhere in an event, at any depth)."""
PHONE_FIELDS = frozenset({"phone", "phone_number", "mobile", "telephone", "tel"})
EMAIL_FIELDS = frozenset({"email", "email_address"})

_EMAIL = re.compile(r"([A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]*@([A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+)")
# A phone as written: 8 or more digits with the separators people use; an ISO date
# (8 digits) and a time with colons do not qualify (see ``_mask_phone``).
_PHONE = re.compile(r"(?<![\w/.:-])(?:\+|00)?\(?\d[\d ().\-]{6,}\d(?![\w:-])")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_NAME_IDENTIFIER = re.compile(r"\b(name:)([^\s,;'\")\]}]+)")
_PHONE_IDENTIFIER = re.compile(r"\b(phone:)(\+?[\d ().\-]*\d)")
_NAME_FIELD = "|".join(sorted(NAME_FIELDS, key=len, reverse=True))
# A name field's value inside a text: ``"full_name": "Ann Lee"`` (a record's JSON) or
# ``subject.full_name: Extra inputs are not permitted (given: 'Ann Lee')`` (a validation
# error, as dead-letter reasons carry them).
_NAME_VALUE = re.compile(rf"\b({_NAME_FIELD})(['\"]?\s*[:=]\s*|: [^;]*?\(given: )(['\"])(.*?)\3")


def _mask_email(match: re.Match[str]) -> str:
    return f"{match.group(1)}***@{match.group(2)}"


def _mask_digits(text: str) -> str:
    """Every digit but the last two starred; separators go too (they give the format)."""
    digits = [c for c in text if c.isdigit()]
    return "*" * max(len(digits) - 2, 0) + "".join(digits[-2:])


def _mask_phone(match: re.Match[str]) -> str:
    text = match.group(0)
    if sum(c.isdigit() for c in text) < 8 or _DATE.fullmatch(text.strip()):
        return text
    return ("+" if text.startswith("+") else "") + _mask_digits(text)


def _mask_name(value: str) -> str:
    """Initials only: ``Ann Lee`` → ``A. L.``."""
    return " ".join(f"{part[0]}." for part in value.split()) or value


def _quoted_name(match: re.Match[str]) -> str:
    return match.group(3) + _mask_name(match.group(4)) + match.group(3)


def mask_text(text: str) -> str:
    """``text`` with every email, phone number and ``name:`` identifier masked."""
    if not any(c.isdigit() or c in "@:=" for c in text):
        return text  # most log values: nothing to look for
    text = _NAME_VALUE.sub(lambda m: m.group(1) + m.group(2) + _quoted_name(m), text)
    text = _EMAIL.sub(_mask_email, text)
    text = _PHONE_IDENTIFIER.sub(lambda m: m.group(1) + _mask_digits(m.group(2)), text)
    text = _PHONE.sub(_mask_phone, text)
    return _NAME_IDENTIFIER.sub(lambda m: m.group(1) + _mask_name(m.group(2)), text)


def _masked(value: Any, field: str | None = None) -> Any:
    if isinstance(value, str):
        if field in NAME_FIELDS:
            return _mask_name(value)
        if field in PHONE_FIELDS:
            return _mask_digits(value)
        if field in EMAIL_FIELDS and "@" not in value:
            return _mask_name(value)
        return mask_text(value)
    if isinstance(value, Mapping):
        return {
            _masked(k): _masked(v, k.lower() if isinstance(k, str) else None)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return type(value)(_masked(v, field) for v in value)
    if isinstance(value, BaseException):
        return mask_text(repr(value))
    return value


def mask_personal_data(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """A structlog processor: emails, phones and names never leave in clear, in keys,
    values at any depth, or exception text (it runs after ``format_exc_info``)."""
    return {_masked(k): v if k == "timestamp" else _masked(v, k.lower()) for k, v in event.items()}


def chosen_format(fmt: str | None, stream: TextIO) -> str:
    if fmt is not None:
        return fmt
    return "console" if _is_terminal(stream) else "json"


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def configure_logging(
    fmt: str | None = None, level: str = "info", *, stream: TextIO | None = None
) -> None:
    """``fmt``: ``json``, ``console``, or None to choose by whether ``stream`` (stderr)
    is a terminal."""
    stream = stream or sys.stderr
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if chosen_format(fmt, stream) == "json"
        else structlog.dev.ConsoleRenderer(
            colors=_is_terminal(stream), exception_formatter=structlog.dev.plain_traceback
        )
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.format_exc_info,
            mask_personal_data,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=True,
    )
