"""Recommendations from co-purchases: customers who bought X also bought Y."""
