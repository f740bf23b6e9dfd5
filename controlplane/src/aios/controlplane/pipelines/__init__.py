"""Pipelines domain: versioned pipeline specs, validation, diff, deployment to devices."""
