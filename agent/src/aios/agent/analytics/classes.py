"""Resolving the class labels named in a pipeline to the detector's class ids."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from aios.agent.errors import ConfigError


def resolve_class_ids(
    labels: Sequence[str] | None, label_to_id: Mapping[str, int], *, where: str
) -> frozenset[int] | None:
    """The class ids of ``labels`` (``None``: every class). ``where`` names the node and
    field for the error message, e.g. ``"zone 'door': classes"``."""
    if labels is None:
        return None
    unknown = [label for label in labels if label not in label_to_id]
    if unknown:
        known = ", ".join(sorted(label_to_id)[:20])
        raise ConfigError(f"{where}: unknown class label(s) {unknown}; the model knows {known}")
    return frozenset(label_to_id[label] for label in labels)


def class_mask(
    class_id: npt.NDArray[np.int32], class_ids: frozenset[int] | None
) -> npt.NDArray[np.bool_]:
    """True where ``class_id`` is one of ``class_ids`` (every row when ``None``)."""
    if class_ids is None:
        return np.ones(class_id.shape, np.bool_)
    return np.isin(class_id, np.fromiter(class_ids, np.int32, len(class_ids)))
