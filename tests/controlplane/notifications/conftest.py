"""The API fixtures (the real app on each backend, signed-up tenants) for the webhook API."""

from tests.controlplane.api.conftest import add_member, api_settings, client, other_owner, owner

__all__ = ["add_member", "api_settings", "client", "other_owner", "owner"]
