"""Rewrite the pinned contract schema (run on purpose, review the diff)."""

from __future__ import annotations

import json

import msgspec

from aios.shared import codec
from tests.shared.test_contract import PINNED

if __name__ == "__main__":
    schema = json.loads(msgspec.json.encode(codec.contract_schema()))
    PINNED.write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n")
    print(f"wrote {PINNED}")
