"""In-process scheduled jobs (APScheduler 3), run once across control-plane replicas.

:mod:`~aios.controlplane.jobs.locks` decides whether this replica runs a job now;
:mod:`~aios.controlplane.jobs.scheduler` runs the registered jobs on their intervals;
:mod:`~aios.controlplane.jobs.background` builds the jobs the control plane runs (device
health, webhook delivery) and is the runtime's one hook.
"""
