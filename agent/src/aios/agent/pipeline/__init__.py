"""The runtime pipeline graph: nodes, their registry, the runner and the config supervisor."""
