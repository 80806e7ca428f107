"""What the access audit keeps of what a rep typed to find someone: never the phone
number, email or name itself, a masked form that says what kind of thing was searched
and lets a manager recognise it when they already know it (pure)."""

from __future__ import annotations

import re

MASK = "•"
_DIGITS = re.compile(r"\d")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def mask_email(text: str) -> str:
    """``ann.smith@example.com`` → ``a•••@e•••.com``."""
    local, _, domain = text.strip().partition("@")
    host, dot, tld = domain.rpartition(".")
    shown_host = f"{host[:1]}{MASK * 3}{dot}{tld}" if dot else f"{domain[:1]}{MASK * 3}"
    return f"{local[:1]}{MASK * 3}@{shown_host}"


def mask_phone(text: str) -> str:
    """Every digit but the last two hidden: ``06 28 23 04 55`` → ``••••••••55``."""
    digits = _DIGITS.findall(text)
    return MASK * max(len(digits) - 2, 0) + "".join(digits[-2:])


def mask_words(text: str) -> str:
    """Each word's first letter: ``Siobhán Kelly`` → ``S••• K•••``; a postcode alike."""
    return " ".join(f"{word[:1]}{MASK * 3}" for word in _WORD.findall(text))


def masked_query(text: str) -> dict[str, str]:
    """The kind of query (email, phone, words) and its masked form."""
    stripped = text.strip()
    if "@" in stripped:
        return {"kind": "email", "masked": mask_email(stripped)}
    if len(_DIGITS.findall(stripped)) >= 6 and not re.search(r"[^\W\d_]", stripped):
        return {"kind": "phone", "masked": mask_phone(stripped)}
    return {"kind": "words", "masked": mask_words(stripped)}


def masked_identifier(kind: str, text: str) -> dict[str, str]:
    """A looked-up identifier (``phone``, ``email``, ``external_id``), masked."""
    if kind == "phone":
        return {"kind": kind, "masked": mask_phone(text)}
    if kind == "email":
        return {"kind": kind, "masked": mask_email(text)}
    scheme, colon, value = text.partition(":")
    shown = f"{scheme}:{value[:1]}{MASK * 3}" if colon else f"{text[:1]}{MASK * 3}"
    return {"kind": kind, "masked": shown}
