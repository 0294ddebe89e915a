"""Typed errors of the package.

Every error names the offending parameter and, where there is a finite set, the allowed values, so
that a CLI user sees what to change without reading a stack trace.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable


class RefineError(Exception):
    """Base class of all errors raised deliberately by :mod:`refine`."""


class ConfigError(RefineError, ValueError):
    """A parameter has a value outside its allowed range or set."""


class DataError(RefineError, ValueError):
    """Features, labels or a split are malformed (NaN, wrong shapes, mismatched lengths)."""


class PoolExhaustedError(RefineError):
    """The unlabeled pool has no instances left to select."""


class ResultsConflictError(RefineError):
    """An output folder already holds results of a different configuration."""


class MissingDependencyError(RefineError, ImportError):
    """An optional dependency is needed; the message names the extra to install."""


def unknown_choice(param: str, value: object, allowed: Iterable[str]) -> ConfigError:
    """Build the error for a value outside a finite set of choices.

    Parameters
    ----------
    param : str
        Name of the parameter as the user typed it (e.g. ``"--dataset"`` or ``"strategy"``).
    value : object
        The rejected value.
    allowed : iterable of str
        The valid choices, listed in the message in sorted order.
    """
    choices = ", ".join(sorted(allowed))
    return ConfigError(f"unknown {param} {value!r}; allowed values: {choices}")


def check_positive_int(param: str, value: object, *, minimum: int = 1) -> int:
    """Return ``value`` as ``int`` if it is an integer ``>= minimum``, else raise ConfigError."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int,))
        and not (hasattr(value, "__index__"))
    ):
        raise ConfigError(f"{param} must be an integer >= {minimum}, got {value!r}")
    ivalue = int(value)  # type: ignore[arg-type]
    if ivalue < minimum:
        raise ConfigError(f"{param} must be an integer >= {minimum}, got {ivalue}")
    return ivalue


def check_fraction(
    param: str, value: float, *, low_open: bool = True, high_closed: bool = True
) -> float:
    """Return ``value`` as ``float`` if it lies in (0, 1] (by default), else raise ConfigError."""
    try:
        fvalue = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{param} must be a number in (0, 1], got {value!r}") from None
    ok_low = fvalue > 0 if low_open else fvalue >= 0
    ok_high = fvalue <= 1 if high_closed else fvalue < 1
    if not (ok_low and ok_high):
        lo = "(" if low_open else "["
        hi = "]" if high_closed else ")"
        raise ConfigError(f"{param} must lie in {lo}0, 1{hi}, got {fvalue}")
    return fvalue


def check_number(
    param: str,
    value: object,
    *,
    min_val: float | None = None,
    max_val: float | None = None,
    include_boundaries: str = "both",
) -> float:
    """Return ``value`` as a finite ``float`` within the bounds, else raise ConfigError.

    A thin wrapper of :func:`sklearn.utils.check_scalar` (``include_boundaries`` as there:
    ``"both"``, ``"left"``, ``"right"`` or ``"neither"``) that also refuses booleans and non-finite
    values and names ``param`` in a :class:`ConfigError`.
    """
    from sklearn.utils import check_scalar

    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(f"{param} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ConfigError(f"{param} must be a finite number, got {value!r}")
    try:
        check_scalar(
            value,
            param,
            numbers.Real,
            min_val=min_val,
            max_val=max_val,
            include_boundaries=include_boundaries,
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(str(exc)) from None
    return float(value)


def check_memory_budget(value: object) -> float:
    """``memory_budget_mb`` (the blocked kernels' working-memory cap) as a finite float > 0."""
    return check_number("memory_budget_mb", value, min_val=0, include_boundaries="neither")
