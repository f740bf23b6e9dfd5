"""Storage strategy: one interface (:class:`~.backend.Storage`), three backends.

- TimescaleDB (extension present): hypertables, compression and retention policies, continuous
  aggregates (:mod:`.timescale`).
- Plain PostgreSQL: native daily range partitions of ``detections`` created ahead and dropped for
  retention (:mod:`.partitions`); rollup tables maintained at ingest.
- SQLite: the same tables, retention by ``DELETE``, rollups at ingest.
"""
