"""EMQX 5's REST API, for what its HTTP hooks cannot do: cut a revoked device's connection.

EMQX asks the control plane at connect time (:mod:`~aios.controlplane.brokers.emqx`), so
enrolling pushes nothing; but a device already connected stays connected after its deletion,
with the permissions EMQX cached. :class:`EmqxProvisioner` kicks it through
``DELETE /api/v5/clients/{clientid}`` (an API key of EMQX's dashboard, HTTP Basic ``key:secret``);
404 (not connected) is success. Failures raise
:class:`~aios.controlplane.brokers.provisioning.BrokerAdminError` (the deletion rolls back).
"""

from __future__ import annotations

import logging
from urllib.parse import quote

import httpx

from aios.controlplane.brokers.access import DeviceIdentity
from aios.controlplane.brokers.provisioning import BrokerAdminError, BrokerLookupProvisioner
from aios.controlplane.settings import Secret
from aios.shared.topics import device_client_id

log = logging.getLogger(__name__)


class EmqxProvisioner(BrokerLookupProvisioner):
    """Provisioning is the hook's (nothing to push); revoking kicks the device's client."""

    def __init__(
        self, api_url: str, api_key: str, api_secret: Secret, *, timeout_s: float = 10.0
    ) -> None:
        self._base = api_url.rstrip("/")
        self._auth = (api_key, api_secret.get())
        self._timeout_s = timeout_s

    async def revoke_device(self, org_id: str, device_id: str) -> None:
        DeviceIdentity(org_id, device_id)
        client_id = quote(device_client_id(org_id, device_id), safe="")
        url = f"{self._base}/api/v5/clients/{client_id}"
        try:
            async with httpx.AsyncClient(timeout=self._timeout_s, auth=self._auth) as http:
                response = await http.delete(url)
        except httpx.HTTPError as exc:
            raise BrokerAdminError(f"EMQX API unreachable: {exc}") from exc
        if response.status_code not in (200, 204, 404):
            raise BrokerAdminError(f"EMQX API refused to kick the device: {response.status_code}")
        log.info("emqx: device %s/%s kicked (%d)", org_id, device_id, response.status_code)
