"""Audiences: rules over the profile as data, membership kept incrementally, entries and
exits published once, consented member lists for marketing (docs/AUDIENCES.md)."""

from projections.audiences.rules import Audiences, AudiencesError, parse_audiences

__all__ = ["Audiences", "AudiencesError", "parse_audiences"]
