"""The zero-loss proof: fault injection on real components, loopback only, bounded in time.

An agent on a looping sample video -> a private Mosquitto -> ``aios serve`` (or ``aios ingest``
beside an API-only ``aios serve``) -> a private PostgreSQL cluster. Each scenario injects one
fault and compares what the agent produced with the database and with
``GET /api/v1/fleet/{id}/completeness``. ``python -m scripts.proof`` runs them (``make proof``)
and writes ``docs/proof.md``; ``tests/e2e/test_proof.py`` runs the fast ones in CI.
"""
