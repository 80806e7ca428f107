"""Webhooks: the subscribers (``config``), the delivery queue in PostgreSQL
(``deliveries``), the dispatcher that POSTs each trigger until it lands
(``dispatcher``) and how requests are signed and checked (``signature``)."""

from consumers.webhooks.dispatcher import DispatchConfig, WebhookDispatcher

__all__ = ["DispatchConfig", "WebhookDispatcher"]
