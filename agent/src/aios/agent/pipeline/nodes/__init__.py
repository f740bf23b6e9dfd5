"""One module per pipeline node kind; registered in :mod:`aios.agent.pipeline.registry`."""
