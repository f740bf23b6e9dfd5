"""AIOS wire contract, shared by the edge agent and the control plane.

Public API: topics (:mod:`aios.shared.topics`), messages (:mod:`aios.shared.messages`), the
codec (:mod:`aios.shared.codec`) and the pipeline spec (:mod:`aios.shared.pipeline`). Every
exception raised here derives from :class:`aios.shared.errors.ContractError`.
"""

__version__ = "0.1.0"
