"""The composition root: settings, embedded services, logging and the CLI."""
