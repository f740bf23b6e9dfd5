"""Database layer: declarative base, ORM models, engine, migrations."""
