"""Changes to published contracts that only make them say what the models always enforced.

A published version may not be narrowed: producers coded against it would break. The
changes below narrow contracts on paper only. The models always refused these events at
the door (decimals, rules between fields, a subject with no identifier), or the pipeline
always failed on them after the log took them (NUL, which PostgreSQL cannot store: such
events were dead-lettered, some after the identity stage had linked them). No event a
producer could get through ever satisfied the old contract and not the corrected one, so
these corrections are exempt from ``touchlog schemas check``; any other narrowing is not.
Each entry is a keyword, its published value (``None``: absent) and its corrected value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from events import rules
from events.compatibility import Incompatibility
from events.envelope import SUBJECT_IS_IDENTIFIED, WRITTEN_PHONE, WRITTEN_PHONE_V1
from events.touchpoints.base import amount_needs_currency
from events.touchpoints.feedback import SURVEY_SAYS_SOMETHING
from events.touchpoints.profile import ProfileUpdatedPayload, changes_something


@dataclass(frozen=True, slots=True)
class Correction:
    keyword: str
    published: Any
    corrected: Any
    why: str

    def excuses(self, change: Incompatibility) -> bool:
        return (change.keyword, change.old, change.new) == (
            self.keyword,
            self.published,
            self.corrected,
        )


_NUL = "PostgreSQL cannot store NUL: such events were dead-lettered once in the log"
_CURRENCY = "the model always refused an amount without a currency"

CORRECTIONS: tuple[Correction, ...] = (
    Correction("pattern", None, rules.NO_NUL, _NUL),
    Correction("pattern", r"\S", rules.NAME, _NUL),
    Correction("pattern", r"^[^@\s]+@[^@\s]+\.[^@\s]+$", rules.EMAIL, _NUL),
    Correction("pattern", r"^https?://[^\s]+$", rules.URL, _NUL),
    Correction(
        "pattern",
        WRITTEN_PHONE_V1,
        WRITTEN_PHONE,
        "a loosening the check cannot see: the new pattern only allows '(' or '(+' where '+' was "
        "before the digits ('(0207) 946-1234'), so it takes every number the old one took",
    ),
    Correction(
        "multipleOf", None, 0.01, "the model always refused more than 2 decimal places in money"
    ),
    Correction(
        "anyOf",
        None,
        SUBJECT_IS_IDENTIFIED["anyOf"],
        "the model always refused a subject without an identifier",
    ),
    Correction(
        "anyOf",
        None,
        SURVEY_SAYS_SOMETHING["anyOf"],
        "the model always refused a survey response without answers or an nps score",
    ),
    Correction(
        "anyOf",
        None,
        changes_something(ProfileUpdatedPayload.model_fields)["anyOf"],
        "the model always refused a profile update that changes nothing",
    ),
    *(
        Correction("if", None, amount_needs_currency(amount), _CURRENCY)
        for amount in ("price", "charge", "compensation", "reward_value")
    ),
)
"""Issue 15: the contracts told less than the truth."""


def excused(change: Incompatibility) -> bool:
    """Is ``change`` one of the ``CORRECTIONS``?"""
    return any(correction.excuses(change) for correction in CORRECTIONS)
