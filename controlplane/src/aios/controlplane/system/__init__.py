"""System domain: health and runtime information."""
