"""Legacy consolidation: a business unit's customer export becomes ``profile.updated`` events.

``touchlog import FILE.csv --source SYSTEM --business-unit BU --mapping mapping.yaml``
"""

from producers.legacy.importer import EventSink, ImportOptions, ImportSummary, import_export
from producers.legacy.mapping import ExportMapping, MappingError, parse_mapping
from producers.legacy.preview import preview
from producers.legacy.rows import ImportedRow, Problem, RejectedRow, RowConverter, message_id
from producers.legacy.state import StateError, default_state_path

__all__ = [
    "EventSink",
    "ExportMapping",
    "ImportOptions",
    "ImportSummary",
    "ImportedRow",
    "MappingError",
    "Problem",
    "RejectedRow",
    "RowConverter",
    "StateError",
    "default_state_path",
    "import_export",
    "message_id",
    "parse_mapping",
    "preview",
]
