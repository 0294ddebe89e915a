"""Strategy registry: names → classes, and composite specs such as ``filtered:bait``."""

from __future__ import annotations

from collections.abc import Callable

from refine.errors import ConfigError, unknown_choice
from refine.strategies.base import Strategy

_STRATEGIES: dict[str, type[Strategy]] = {}
_PREFIXES: dict[str, Callable[..., Strategy]] = {}


def register_strategy(cls: type[Strategy]) -> type[Strategy]:
    """Class decorator registering ``cls`` under ``cls.name``."""
    if not cls.name:
        raise TypeError(f"{cls.__name__} has no name")
    if cls.name in _STRATEGIES and _STRATEGIES[cls.name] is not cls:
        raise TypeError(f"strategy name {cls.name!r} registered twice")
    _STRATEGIES[cls.name] = cls
    return cls


def register_prefix(prefix: str, factory: Callable[..., Strategy]) -> None:
    """Register a composite spec ``PREFIX:INNER`` built by ``factory(inner_name, **params)``."""
    _PREFIXES[prefix] = factory


def available_strategies(include_composite: bool = False) -> list[str]:
    """Registered strategy names, sorted (with ``PREFIX:<strategy>`` forms if asked)."""
    names = sorted(_STRATEGIES)
    if include_composite:
        names += [f"{p}:<strategy>" for p in sorted(_PREFIXES)]
    return names


def strategy_class(name: str) -> type[Strategy]:
    """The class registered as ``name``."""
    try:
        return _STRATEGIES[name]
    except KeyError:
        raise unknown_choice(
            "strategy", name, available_strategies(include_composite=True)
        ) from None


def make_strategy(spec: str, **params) -> Strategy:
    """Build a strategy from its name or composite spec.

    Parameters
    ----------
    spec : str
        A registered name (``"margin"``) or ``"PREFIX:NAME"`` (``"filtered:bait"``).
    **params
        Constructor parameters of the strategy (or of the composite).
    """
    if not isinstance(spec, str) or not spec:
        raise ConfigError(f"strategy must be a non-empty string, got {spec!r}")
    if ":" in spec:
        prefix, inner = spec.split(":", 1)
        if prefix not in _PREFIXES:
            raise unknown_choice("strategy prefix", prefix, _PREFIXES)
        strategy_class(inner)  # validate the inner name with a clear message
        return _PREFIXES[prefix](inner, **params)
    cls = strategy_class(spec)
    try:
        return cls(**params)
    except TypeError as exc:
        raise ConfigError(f"invalid parameters for strategy {spec!r}: {exc}") from None
