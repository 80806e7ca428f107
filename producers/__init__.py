"""Everything that emits touchpoints: the SDK, importers, the demo generator."""

from producers.publisher import Published, Publisher

__all__ = ["Published", "Publisher"]
