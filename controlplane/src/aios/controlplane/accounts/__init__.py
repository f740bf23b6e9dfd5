"""Accounts domain: users, roles, password hashing, JWT access and refresh tokens, login."""
