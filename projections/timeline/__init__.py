"""The per-subject timeline: every touchpoint, newest first."""

from projections.timeline.projection import TimelineEntry, project, project_all

__all__ = ["TimelineEntry", "project", "project_all"]
