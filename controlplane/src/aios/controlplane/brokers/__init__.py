"""MQTT brokers and device security: provisioning device identities, broker auth hooks.

* :mod:`~aios.controlplane.brokers.access`: the access policy (who may use which topic) and
  the broker-side names of devices and services;
* :mod:`~aios.controlplane.brokers.provisioning`: the interface enrollment calls
  (:class:`DeviceCredentialsProvisioner`) and the no-op variant for the embedded broker/EMQX;
* :mod:`~aios.controlplane.brokers.dynsec`: Mosquitto's dynamic security plugin;
* :mod:`~aios.controlplane.brokers.emqx` and :mod:`~aios.controlplane.brokers.controllers`:
  the HTTP authentication/authorization hook EMQX calls.

Errors: :class:`~aios.controlplane.brokers.provisioning.BrokerAdminError`, a
:class:`~aios.controlplane.errors.BrokerError` (root: ``ControlPlaneError``).
"""
