"""The read side: HTTP API for reps and marketing."""

from api.app import create_app

__all__ = ["create_app"]
