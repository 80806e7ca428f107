"""Views folded from the log. Each view: a pure projection module and a PostgreSQL adapter."""
