"""Query strategies: one module per strategy, all behind :class:`~refine.strategies.base.Strategy`.

Every module of this package is imported here, so a strategy registers itself by being a module
of the package (``@register_strategy``); nothing else needs editing to add one.
"""

from __future__ import annotations

import importlib
import pkgutil

from refine.strategies.base import SmallPoolWarning, Strategy, StrategyOutputError
from refine.strategies.registry import (
    available_strategies,
    make_strategy,
    register_prefix,
    register_strategy,
    strategy_class,
)

_INFRA = {"base", "registry"}
for _mod in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    if _mod not in _INFRA and not _mod.startswith("_"):
        importlib.import_module(f"{__name__}.{_mod}")

__all__ = [
    "SmallPoolWarning",
    "Strategy",
    "StrategyOutputError",
    "available_strategies",
    "make_strategy",
    "register_prefix",
    "register_strategy",
    "strategy_class",
]
