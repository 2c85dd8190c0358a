"""The rollup's array helpers: day numbers, categories and counting into numpy arrays."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from app.metrics import DETRACTOR, PASSIVE, PASSIVE_MIN, PROMOTER, PROMOTER_MIN

MICROS_PER_DAY = 86_400_000_000


def add_at(array: np.ndarray, flat_index: np.ndarray, sign: int) -> None:
    """Add ``sign`` at each flat index (repeats accumulate); bincount is fast for big batches."""
    flat = array.reshape(-1)
    if len(flat_index) < 4096:
        np.add.at(flat, flat_index, sign)
    else:
        flat += (sign * np.bincount(flat_index, minlength=flat.size)).astype(array.dtype)


def to_micros(values: Sequence[object]) -> np.ndarray:
    """UTC microseconds since the epoch for naive-UTC datetimes or ISO strings."""
    if not len(values):
        return np.zeros(0, dtype=np.int64)
    if isinstance(values[0], str):
        index = pd.to_datetime(pd.Index(values), format="ISO8601")
    else:
        index = pd.DatetimeIndex(values)
    if index.tz is not None:
        index = index.tz_convert("UTC").tz_localize(None)
    return index.as_unit("us").asi8.astype(np.int64)


def local_days(micros: np.ndarray, tz: str) -> np.ndarray:
    """Epoch day numbers of UTC instants, cut at midnight in ``tz``."""
    if not len(micros):
        return np.zeros(0, dtype=np.int64)
    local = pd.DatetimeIndex(micros.astype("datetime64[us]")).tz_localize("UTC").tz_convert(tz)
    return local.tz_localize(None).as_unit("us").asi8 // MICROS_PER_DAY


def categories(scores: np.ndarray) -> np.ndarray:
    """Vectorised ``metrics.categorize``: 0 promoter, 1 passive, 2 detractor."""
    return np.where(scores >= PROMOTER_MIN, PROMOTER,
                    np.where(scores >= PASSIVE_MIN, PASSIVE, DETRACTOR)).astype(np.int8)
