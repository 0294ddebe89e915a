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
        Constructor parameters of the strategy (or of the composite). Parameters of a nested
        estimator are given in scikit-learn's form (``filter__rounds``) or by their short name
        (``rounds``) when it names exactly one nested parameter.
    """
    if not isinstance(spec, str) or not spec:
        raise ConfigError(f"strategy must be a non-empty string, got {spec!r}")
    if ":" in spec:
        prefix, inner = spec.split(":", 1)
        if prefix not in _PREFIXES:
            raise unknown_choice("strategy prefix", prefix, _PREFIXES)
        strategy_class(inner)  # validate the inner name with a clear message
        return _build(spec, lambda **p: _PREFIXES[prefix](inner, **p), params)
    return _build(spec, strategy_class(spec), params)


def _build(spec: str, factory: Callable[..., Strategy], params: dict) -> Strategy:
    try:
        default = factory()
    except TypeError as exc:
        raise ConfigError(f"invalid parameters for strategy {spec!r}: {exc}") from None
    direct = set(default.get_params(deep=False))
    nested = resolve_nested(spec, default, {k: v for k, v in params.items() if k not in direct})
    try:
        strategy = factory(**{k: v for k, v in params.items() if k in direct})
    except TypeError as exc:
        raise ConfigError(f"invalid parameters for strategy {spec!r}: {exc}") from None
    if nested:
        strategy.set_params(**nested)
    return strategy


def resolve_nested(spec: str, strategy: Strategy, params: dict) -> dict:
    """Full nested names (``filter__rounds``) for ``params`` not taken by the constructor.

    Raises
    ------
    ConfigError
        For a name that matches no parameter, or a short name that matches several nested ones.
    """
    deep = [k for k in strategy.get_params(deep=True) if "__" in k]
    out = {}
    for key, value in params.items():
        if key in deep:
            out[key] = value
            continue
        matches = [k for k in deep if k.rsplit("__", 1)[1] == key]
        if len(matches) != 1:
            allowed = sorted(strategy.get_params(deep=False)) + sorted(deep)
            what = "is ambiguous" if matches else "is not a parameter"
            raise ConfigError(
                f"invalid parameters for strategy {spec!r}: {key!r} {what}; "
                f"allowed: {', '.join(allowed)}"
            )
        out[matches[0]] = value
    return out


def parameter_names(spec: str) -> list[str]:
    """Every parameter ``make_strategy(spec, ...)`` accepts: direct, nested and short names."""
    strategy = make_strategy(spec)
    names = set(strategy.get_params(deep=False))
    deep = [k for k in strategy.get_params(deep=True) if "__" in k]
    shorts = [k.rsplit("__", 1)[1] for k in deep]
    names.update(deep)
    names.update(s for s in shorts if shorts.count(s) == 1 and s not in names)
    return sorted(names)


def parameter_defaults(spec: str) -> dict:
    """What ``refine strategies`` lists: each parameter a user sets, with its default.

    A nested estimator (Refine's ``filter``) is listed by its parameters under their short
    names (``rounds``, as ``--param refine.rounds=3`` takes them), not as one object.
    """
    from sklearn.base import BaseEstimator

    strategy = make_strategy(spec)
    direct = strategy.get_params(deep=False)
    out = {k: v for k, v in direct.items() if not isinstance(v, BaseEstimator)}
    deep = {k: v for k, v in strategy.get_params(deep=True).items() if "__" in k}
    shorts = [k.rsplit("__", 1)[1] for k in deep]
    for key, value in deep.items():
        short = key.rsplit("__", 1)[1]
        out[short if shorts.count(short) == 1 and short not in out else key] = value
    return out
