"""AIOS edge agent."""
