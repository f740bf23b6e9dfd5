"""Camera sources: one module per kind, captured in a thread with latest-frame semantics.

See :mod:`aios.agent.sources.capture` for reconnects and state, and
:mod:`aios.agent.sources.registry` for the kind -> camera mapping.
"""
