"""Notifications: per-organization webhooks, their signed delivery with retries, and its log.

Producers (presence today; device events and rules next) call
:func:`aios.controlplane.notifications.outbox.enqueue` inside their own transaction; the
``webhook_delivery`` job (:class:`~aios.controlplane.notifications.delivery.WebhookDispatcher`)
sends what is due. Errors: :class:`~aios.controlplane.errors.ControlPlaneError` subclasses only.
"""
