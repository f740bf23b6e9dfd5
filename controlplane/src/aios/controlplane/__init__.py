"""AIOS control plane."""
