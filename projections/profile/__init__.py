"""The customer information file: every attribute with its history, read as of any moment.

Pure logic only: ``facts`` (event → history rows), ``state`` (the fold), ``fields`` (what
the profile shows, each field's tier), ``profile`` (a profile as of a moment, a field's
history). Who sees what is the read side's (``api.profile_access``). SQL lives in ``postgres``.
"""

from projections.profile.facts import Fact, project, project_all
from projections.profile.fields import BY_NAME, FIELDS, ProfileField, Section, field_named
from projections.profile.profile import (
    HistoryEntry,
    NotHistoried,
    Profile,
    by_section,
    history,
    profile_of,
)
from projections.profile.state import ProfileState, fold

__all__ = [
    "BY_NAME",
    "FIELDS",
    "Fact",
    "HistoryEntry",
    "NotHistoried",
    "Profile",
    "ProfileField",
    "ProfileState",
    "Section",
    "by_section",
    "field_named",
    "fold",
    "history",
    "profile_of",
    "project",
    "project_all",
]
