"""The broker-neutral interface enrollment uses to give a device its MQTT credentials.

Enrollment (:mod:`aios.controlplane.fleet`) calls :meth:`DeviceCredentialsProvisioner.
provision_device` after it has stored the device's credentials and
:meth:`~DeviceCredentialsProvisioner.revoke_device` when a device is revoked, without knowing
which broker runs:

* Mosquitto: :class:`~aios.controlplane.brokers.dynsec.MosquittoDynsecProvisioner` creates the
  device's client and role through the dynamic security plugin;
* the embedded broker and EMQX: :class:`BrokerLookupProvisioner` does nothing, because those
  brokers ask the control plane at connect time (the embedded broker reads the credentials
  table, EMQX calls the HTTP hook of :mod:`aios.controlplane.brokers.controllers`).

Both operations are idempotent: provisioning twice converges (and rotates the password),
revoking a device the broker does not know is not an error. Failures raise
:class:`BrokerAdminError`.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from aios.controlplane.brokers.access import DeviceIdentity
from aios.controlplane.errors import BrokerError
from aios.shared.topics import DEFAULT_PREFIX


class BrokerAdminError(BrokerError):
    """The broker refused or did not answer an administration request (provisioning)."""


@runtime_checkable  # Litestar checks injected dependencies against the annotation
class DeviceCredentialsProvisioner(Protocol):
    """Creates and removes a device's identity on the MQTT broker."""

    async def provision_device(
        self,
        org_id: str,
        device_id: str,
        password: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        client_id: str | None = None,
    ) -> None:
        """Let the device connect as ``device_username(org_id, device_id)`` with ``password``
        and use only its own topics; ``client_id``, when given, is the only MQTT client id the
        device may connect with (so it cannot take over another device's session).

        By default (a broker that asks the control plane) only the names are checked."""
        DeviceIdentity(org_id, device_id)  # same validation as a real broker

    async def revoke_device(self, org_id: str, device_id: str) -> None:
        """Remove the device's identity and disconnect it if it is connected (by default: only
        the names are checked)."""
        DeviceIdentity(org_id, device_id)


class BrokerLookupProvisioner(DeviceCredentialsProvisioner):
    """For brokers that authenticate against the control plane itself: nothing to push."""
