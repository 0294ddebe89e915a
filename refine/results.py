"""Loading a results folder and telling its configurations apart.

A results folder may hold trials of several configurations: ``refine run`` into sibling folders
under one parent, a second run with other ``--cycles``, a strategy run again with other
parameters. Averaging such trials together gives numbers no run has (an AULC over 21 and 6
points, Refine with R = 5 and R = 3 pooled), so :func:`load_configurations` splits the trials
by the spec each one stores in its Parquet footer (:func:`refine.loop.run_trial`):

- the *protocol*: every spec field except the trial's own coordinates (dataset, backbone,
  strategy, seed, label), its parameters and where it ran (device; ``n_jobs`` is dropped by
  :func:`spec_identity`). Trials of different protocols are never compared: each
  protocol is its own :class:`Configuration`, reported on its own.
- the *strategy variant*: the registry spec and parameters. Within one protocol, two variants of
  one strategy name become two rows, named ``name [key=value, ...]`` after the keys in which they
  differ (``refine [rounds=3]`` beside ``refine [rounds=5]``).

Two files with the same protocol, variant and seed are one trial run twice (e.g. the same
``refine run`` into two folders): the first (in path order) is kept and the others are counted as
duplicates. Unfinished trials are left out of the report (their AULC covers fewer cycles).
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from refine.io import read_parquet_with_metadata
from refine.parallel import is_result_neutral

#: Spec fields that locate a trial inside a configuration.
TRIAL_FIELDS = ("dataset", "backbone", "strategy", "seed", "label")
#: Spec fields that say where a trial ran, not what it computed.
ENVIRONMENT_FIELDS = ("device",)


#: Columns of a trial's results table, one row per cycle (:func:`refine.loop.run_trial`).
RESULT_COLUMNS = [
    "dataset",
    "backbone",
    "strategy",
    "seed",
    "cycle",
    "n_labeled",
    "accuracy",
    "balanced_accuracy",
    "selected",
    "selection_seconds",
    "training_seconds",
    "trace",
]


#: Spec fields added after results were first stored, with the value that means "as before":
#: left out of the identity at that value, so results stored without them stay valid.
_ADDED_DEFAULTS = {"profile": None}
_ADDED_HEAD_DEFAULTS = {"schedule_epochs": None}


def spec_identity(spec: dict[str, Any] | None) -> dict[str, Any]:
    """A stored or new spec without the parameters that cannot change results (``n_jobs``).

    Resuming with another ``n_jobs`` is allowed: filtering draws give the same batches in any
    number of threads (:mod:`refine.strategies.filtering`). Fields added later (``profile``,
    ``head.schedule_epochs``) are left out at their "as before" value (None).
    """
    d = json.loads(json.dumps(spec or {}))
    for key, default in _ADDED_DEFAULTS.items():
        if key in d and d[key] == default:
            del d[key]
    head = d.get("head")
    if isinstance(head, dict):
        for key, default in _ADDED_HEAD_DEFAULTS.items():
            if key in head and head[key] == default:
                del head[key]
    params = d.get("strategy_params")
    if isinstance(params, dict):
        d["strategy_params"] = {k: v for k, v in params.items() if not is_result_neutral(k)}
    return d


@dataclass
class Trial:
    """One trial file: its rows, its stored spec and whether it finished."""

    path: Path
    rows: pd.DataFrame
    spec: dict[str, Any]
    complete: bool

    @property
    def name(self) -> str:
        """The strategy's name in the results (the label, else the registry spec)."""
        return str(self.spec.get("label") or self.spec.get("strategy") or self.rows.strategy.iat[0])

    def protocol(self) -> dict[str, Any]:
        """Flattened spec fields shared by every trial of one configuration."""
        d = spec_identity(self.spec)
        for k in (*TRIAL_FIELDS, *ENVIRONMENT_FIELDS, "strategy_params"):
            d.pop(k, None)
        return _flatten(d)

    def variant(self) -> dict[str, Any]:
        """The strategy's registry spec and parameters (``n_jobs`` excluded)."""
        d = spec_identity(self.spec)
        return {"strategy": d.get("strategy"), **_flatten(d.get("strategy_params") or {})}


@dataclass
class Configuration:
    """The finished trials of one protocol, ready for :mod:`refine.metrics`.

    Attributes
    ----------
    label : str
        The protocol keys in which this configuration differs from the others of the folder
        (``"n_cycles=5"``), empty when the folder holds one configuration.
    protocol : dict
        The flattened protocol (``n_cycles``, ``batch_size``, ``head.epochs``, ...).
    results : DataFrame
        The tidy results table; variants of one strategy carry their distinguishing name.
    variants : dict
        Results name → the strategy's spec and parameters.
    """

    label: str
    protocol: dict[str, Any]
    results: pd.DataFrame
    variants: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def slug(self) -> str:
        """A folder name for the configuration's figures (``n_cycles-5``)."""
        return re.sub(r"[^A-Za-z0-9._]+", "-", self.label).strip("-") or "all"


@dataclass
class Folder:
    """What :func:`load_configurations` found under a results folder."""

    configurations: list[Configuration]
    n_unfinished: int = 0
    duplicates: list[Path] = field(default_factory=list)


def load_trials(out_dir: str | Path) -> list[Trial]:
    """Every trial file under ``out_dir`` (recursively, hidden temporaries skipped), path order."""
    trials = []
    for p in sorted(Path(out_dir).rglob("*.parquet")):
        if p.name.startswith("."):
            continue
        df, meta = read_parquet_with_metadata(p)
        if "spec" not in meta:
            continue
        trials.append(Trial(p, df, meta["spec"], bool(meta.get("complete"))))
    return trials


def load_results(out_dir: str | Path, complete_only: bool = False) -> pd.DataFrame:
    """Concatenate every trial table under ``out_dir`` (incomplete trials too, unless asked).

    The raw concatenation, whatever the configurations: :func:`load_configurations` is what a
    report should use.
    """
    frames = [t.rows for t in load_trials(out_dir) if t.complete or not complete_only]
    if not frames:
        return pd.DataFrame(columns=RESULT_COLUMNS)
    return pd.concat(frames, ignore_index=True)


def load_configurations(out_dir: str | Path) -> Folder:
    """The finished trials under ``out_dir``, one :class:`Configuration` per protocol."""
    trials = load_trials(out_dir)
    finished = [t for t in trials if t.complete]
    return group_trials(finished, n_unfinished=len(trials) - len(finished))


def group_trials(trials: list[Trial], n_unfinished: int = 0) -> Folder:
    """Split ``trials`` by protocol, name strategy variants, drop repeated runs of one trial."""
    by_protocol: dict[str, list[Trial]] = {}
    protocols: dict[str, dict[str, Any]] = {}
    for t in trials:
        key = _canonical(t.protocol())
        by_protocol.setdefault(key, []).append(t)
        protocols[key] = t.protocol()
    labels = distinguishing_labels(list(protocols.values()))
    folder = Folder([], n_unfinished=n_unfinished)
    for key, group in by_protocol.items():
        names = _variant_names(group)
        seen: set[tuple] = set()
        frames, variants = [], {}
        for t in group:
            name = names[id(t)]
            ident = (t.spec.get("dataset"), t.spec.get("backbone"), name, t.spec.get("seed"))
            if ident in seen:
                folder.duplicates.append(t.path)
                continue
            seen.add(ident)
            rows = t.rows.copy()
            rows["strategy"] = name
            frames.append(rows)
            variants[name] = t.variant()
        folder.configurations.append(
            Configuration(
                labels[list(protocols).index(key)],
                protocols[key],
                pd.concat(frames, ignore_index=True),
                variants,
            )
        )
    folder.configurations.sort(key=lambda c: c.label)
    return folder


def distinguishing_labels(dicts: list[dict[str, Any]]) -> list[str]:
    """For each dict, ``"k=v, ..."`` over the keys whose values differ between the dicts."""
    keys = sorted({k for d in dicts for k in d})
    differing = [k for k in keys if len({_canonical(d.get(k)) for d in dicts}) > 1]
    return [", ".join(f"{k}={_show(d.get(k))}" for k in differing) for d in dicts]


def _variant_names(group: list[Trial]) -> dict[int, str]:
    """Results name of each trial: its name, plus ``[k=v, ...]`` where variants of it differ."""
    by_name: dict[str, dict[str, dict[str, Any]]] = {}
    for t in group:
        v = _with_defaults(t.variant())
        by_name.setdefault(t.name, {})[_canonical(v)] = v
    out = {}
    for t in group:
        variants = by_name[t.name]
        if len(variants) == 1:
            out[id(t)] = t.name
            continue
        keys = list(variants)
        label = distinguishing_labels(list(variants.values()))[
            keys.index(_canonical(_with_defaults(t.variant())))
        ]
        out[id(t)] = f"{t.name} [{label}]"
    return out


def _with_defaults(variant: dict[str, Any]) -> dict[str, Any]:
    """The variant with the strategy's default for every parameter it did not set.

    ``refine`` (defaults) beside ``refine --param rounds=3`` then reads ``rounds=5`` /
    ``rounds=3`` rather than ``rounds=None`` / ``rounds=3``. Strategies the registry cannot
    build (user classes run under a label) keep their stored parameters.
    """
    defaults = _defaults(str(variant["strategy"]))
    if defaults is None:
        return variant
    out = dict(variant)
    for k, v in defaults.items():
        short = k.rsplit("__", 1)[-1]
        if is_result_neutral(k) or short in out:
            continue
        if v is None or isinstance(v, (str, int, float, bool, list, tuple)):
            out[short] = list(v) if isinstance(v, tuple) else v
    return out


@functools.cache
def _defaults(spec: str) -> dict[str, Any] | None:
    """The default parameters of registry spec ``spec`` (None if the registry cannot build it)."""
    from refine.strategies import make_strategy

    try:
        return make_strategy(spec).get_params(deep=True)
    except Exception:  # a strategy the registry cannot build keeps its stored parameters
        return None


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, default=str)


def _show(v: Any) -> str:
    if v is None:
        return "unset"
    if isinstance(v, (list, tuple)):
        return "+".join(map(str, v))
    return str(v)
