"""Fidelity profiles: every switch between the published code and the corrected forms, in one place.

Refine's published numbers come from the authors' code (``dhuseljic/dal-toolbox``, folder
``publications/cleaning_the_pool/``, commit e9bf05ca, checked against 55570442 from the paper's
time). Where that code differs from the paper text or from the original methods, the package
implements both forms behind named options. This module names every such option once, as a
:class:`Switch`, and groups their values into two profiles:

``published``
    Every behaviour of the published code, including the ones that are bugs there (the transposed
    herding gain, ALFA-Mix's ``range(#seen classes)`` anchors): the profile whose numbers are
    compared with the paper's, and the default of ``python -m reproduce --preset paper``.
``corrected``
    The paper's and the original methods' forms, and the fixes.

Without a profile nothing is changed: every option keeps the package default, which is the
published side for some rows and the corrected side for others (:attr:`Switch.default_side`;
the README's paper-vs-code table lists them). :data:`SWITCHES` is the list.

Applying a profile (:func:`resolve`, :func:`profile_trial`, :func:`apply_to_run`) returns the
resolved strategy parameters, dataset parameters and trial settings. An option given explicitly
(a strategy parameter, a member's parameter inside ``strategy_params``, a dataset parameter, a
trial setting) always wins over its profile's value. Strategy switches apply wherever the
strategy occurs: on its own, as a member of Refine's or a filtered strategy's ensemble, as
TAILOR's arm, inside SelectAL or TCM. A dataset switch whose parameter the dataset's loader does
not take is skipped with a :class:`ProfileWarning` (it is recorded in :attr:`Resolved.skipped`).

Examples
--------
>>> from refine.profiles import resolve
>>> r = resolve("published", "bait")
>>> r.strategy_params["fisher_scaling"]
'dal'
>>> resolve("published", "bait", {"fisher_scaling": "mean"}).strategy_params["fisher_scaling"]
'mean'
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from refine.errors import ConfigError, unknown_choice

PROFILES = ("published", "corrected")

#: Where a switch applies.
KINDS = ("strategy", "dataset", "trial", "metric")

#: The ensemble baselines (run by the published code with the dataset config's ``subset_size``).
ENSEMBLE_BASELINES = ("selectal", "tcm", "tailor", "autoal", "autoal-original")

#: ``subset_size`` of the published dataset configs (``configs/dataset/*.yaml``): the subsample
#: the published ensembles score per query; single strategies were run with 5000
#: (``slurm/baselines.sh``).
PUBLISHED_ENSEMBLE_SUBSAMPLE = {
    "cifar10": 1000,
    "snacks": 1000,
    "dopanim": 1000,
    "cifar100": 2500,
    "food101": 2500,
    "tiny_imagenet": 2500,
    "esc50": 500,
}


class ProfileWarning(UserWarning):
    """A profile's switch could not be applied (e.g. the dataset loader lacks the parameter)."""


@dataclass(frozen=True)
class Switch:
    """One difference between the published code and the corrected form.

    Attributes
    ----------
    name : str
        Short identifier (``"bait_fisher_scaling"``).
    kind : {"strategy", "dataset", "trial", "metric"}
        What the parameter belongs to: a strategy's constructor parameter, a dataset loader
        parameter, a :class:`~refine.loop.TrialSpec` field, or an option of a metric function.
    target : tuple of str
        Strategy registry names (kind ``strategy``), or the metric function (kind ``metric``);
        empty for dataset and trial switches.
    parameter : str
        The parameter's name (nested names in scikit-learn's form, ``filter__variant``).
    published, corrected : object
        The two values. A mapping ``{dataset: value}`` gives per-dataset values; a dataset
        missing from it is left alone.
    description : str
        One line: what differs.
    default_side : {"published", "corrected", "both"}
        Which profile the package default (no profile) matches.
    role : {"any", "final"}
        ``"final"``: only the final selection step of Refine (not the ensemble members).
    datasets : tuple of str, optional
        Datasets where the switch applies (None: all).
    exclude_datasets : tuple of str
        Datasets where it does not.
    strategies : tuple of str, optional
        For trial switches: the run strategies they apply to (None: all).
    automatic : bool
        False for switches :func:`resolve` does not apply by itself (a metric option, read with
        :func:`metric_option`; the CLIP backbone, read with :func:`resolve_backbone`).
    """

    name: str
    kind: str
    target: tuple[str, ...]
    parameter: str
    published: Any
    corrected: Any
    description: str
    default_side: str
    role: str = "any"
    datasets: tuple[str, ...] | None = None
    exclude_datasets: tuple[str, ...] = ()
    strategies: tuple[str, ...] | None = None
    automatic: bool = True

    def value(self, profile: str, dataset: str | None = None) -> Any:
        """The switch's value under ``profile`` (:data:`NOT_APPLICABLE` where it does not apply)."""
        check_profile(profile)
        if dataset is not None and (
            dataset in self.exclude_datasets
            or (self.datasets is not None and dataset not in self.datasets)
        ):
            return NOT_APPLICABLE
        v = self.published if profile == "published" else self.corrected
        if isinstance(v, Mapping):
            return v.get(dataset, NOT_APPLICABLE) if dataset is not None else NOT_APPLICABLE
        return v

    @property
    def where(self) -> str:
        """Human-readable location of the parameter."""
        if self.kind == "strategy":
            scope = " (Refine's final step)" if self.role == "final" else ""
            return f"{'/'.join(self.target)}.{self.parameter}{scope}"
        if self.kind == "metric":
            return f"{'/'.join(self.target)}({self.parameter}=)"
        only = f" ({', '.join(self.datasets)})" if self.datasets else ""
        but = f" (all but {', '.join(self.exclude_datasets)})" if self.exclude_datasets else ""
        who = f" of {'/'.join(self.strategies)}" if self.strategies else ""
        return f"{self.kind} {self.parameter}{who}{only}{but}"


class _NotApplicable:
    def __repr__(self) -> str:
        return "NOT_APPLICABLE"


#: Returned by :meth:`Switch.value` where a switch does not apply.
NOT_APPLICABLE = _NotApplicable()

#: Every switch (the README's paper-vs-code table lists the same rows with the measured effects).
SWITCHES: tuple[Switch, ...] = (
    Switch(
        "herding_gain",
        "strategy",
        ("uherding", "maxherding"),
        "gain",
        "published",
        "paper",
        "greedy herding score: published u_c·mean_x max(K(c,x) − m(c), 0) (transposed, a bug) "
        "vs the papers' mean_x u(x)·max(K(x,c) − m(x), 0)",
        "corrected",
    ),
    Switch(
        "final_uherding_temperature",
        "strategy",
        ("uherding",),
        "temperature_scope",
        "own",
        "shared",
        "Refine's final UHerding refits its temperature at every call on its own random 80/20 "
        "split of L (published) vs sharing the members' per-cycle temperature",
        "corrected",
        role="final",
    ),
    Switch(
        "uherding_zero_distances",
        "strategy",
        ("uherding",),
        "zero_distances",
        "fallback",
        "exclude",
        "RBF bandwidth: min distance in L including zeros, γ = 1 when it is 0 (published) vs the "
        "original's min non-zero distance",
        "published",
    ),
    Switch(
        "bait_fisher_scaling",
        "strategy",
        ("bait",),
        "fisher_scaling",
        "dal",
        "mean",
        "BAIT's F and F_L: sum of one mean per 32-row chunk (published, confirmed at 55570442 and "
        "e9bf05ca) vs the mean over instances (paper, original)",
        "corrected",
    ),
    Switch(
        "alfamix_anchors",
        "strategy",
        ("alfamix",),
        "anchor_mode",
        "published",
        "all_classes",
        "ALFA-Mix anchors over range(#seen classes) (published, a bug: NaN anchors) vs every "
        "class with the mean-of-L fallback (original)",
        "corrected",
    ),
    Switch(
        "alfamix_alpha_growth",
        "strategy",
        ("alfamix",),
        "alpha_growth",
        False,
        True,
        "ALFA-Mix ε fixed at 0.2/√D (published) vs grown 0.2 → 1.0 (original)",
        "published",
    ),
    Switch(
        "typiclust_rule",
        "strategy",
        ("typiclust",),
        "variant",
        "dal",
        "original",
        "TypiClust clusters: largest uncovered, each once, no size filter (published) vs the "
        "original's size filter and round-robin order",
        "published",
    ),
    Switch(
        "filter_variant",
        "strategy",
        ("refine", "filtered"),
        "filter__variant",
        "published",
        "paper",
        "progressive filtering: round-1 subsample 5000 and a 10 000 cap after each round "
        "(published) vs α·|U| in every round, no cap (Algorithm 1 of the paper)",
        "published",
    ),
    Switch(
        "tailor_arms",
        "strategy",
        ("tailor",),
        "mode",
        "per_pick",
        "ranked",
        "TAILOR queries each arm with a batch of size 1 at every pull (published) vs one ranking "
        "per arm and cycle (original TAILOR)",
        "corrected",
    ),
    Switch(
        "selectal_schedule",
        "strategy",
        ("selectal",),
        "schedule_epochs",
        200,
        None,
        "SelectAL's retrainings: cosine schedule with T_max = 200 stopped after 50 epochs (lr "
        "falls only to ≈ 0.0085, published) vs annealed over the 50 epochs",
        "corrected",
    ),
    Switch(
        "pool_fraction",
        "dataset",
        (),
        "pool_fraction",
        0.9,
        1.0,
        "the AL pool is a seeded random 90 % of the training split (published val_split = 0.1) "
        "vs the whole training split",
        "corrected",
        exclude_datasets=("esc50",),
    ),
    Switch(
        "esc50_split",
        "dataset",
        (),
        "split",
        "published",
        "corrected",
        "ESC-50: two unseeded train_test_split calls on the train and test copies (test clips "
        "leak into the pool, published) vs one seeded 80/20 split",
        "corrected",
        datasets=("esc50",),
    ),
    Switch(
        "ensemble_subsample",
        "trial",
        (),
        "subsample",
        PUBLISHED_ENSEMBLE_SUBSAMPLE,
        5000,
        "ensemble baselines score the dataset config's subset_size (1000/2500/500, published) vs "
        "the single strategies' 5000",
        "corrected",
        strategies=ENSEMBLE_BASELINES,
    ),
    Switch(
        "snacks_batch_size",
        "trial",
        (),
        "batch_size",
        10,
        20,
        "Snacks batch size b: 10 in the published config vs 20 in the paper's Table 1",
        "corrected",
        datasets=("snacks",),
    ),
    Switch(
        "clip_backbone",
        "dataset",
        (),
        "backbone",
        "clip-b32",
        "clip",
        "CLIP backbone: ViT-B/32 (published code, HF pooled 768-d) vs ViT-B/16 (paper); a "
        "requested backbone is never rewritten silently: resolve_backbone() gives the profile's",
        "corrected",
        automatic=False,
    ),
    Switch(
        "win_rate_variant",
        "metric",
        ("win_rate_matrix",),
        "variant",
        "paper",
        "paper",
        "win rates of the paper's figures (evaluate.ipynb at the release: share of seeds with "
        "the strictly larger AULC) in both profiles; 'evaluate_2' (the later AutoAL notebook: "
        "(cycle, seed) pairs over 21·seeds) is a named option outside the profiles",
        "both",
        automatic=False,
    ),
)

_BY_NAME = {s.name: s for s in SWITCHES}


def check_profile(profile: str) -> str:
    """``profile`` if it names a profile, else a :class:`ConfigError` listing them."""
    if profile not in PROFILES:
        raise unknown_choice("profile", profile, PROFILES)
    return profile


def switch(name: str) -> Switch:
    """The switch called ``name``."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise unknown_choice("switch", name, _BY_NAME) from None


def metric_option(profile: str | None, metric: str, parameter: str) -> Any:
    """The metric option of ``profile`` (None without a profile or a switch for it)."""
    if profile is None:
        return None
    for s in SWITCHES:
        if s.kind == "metric" and metric in s.target and s.parameter == parameter:
            return s.value(profile)
    return None


# ---------------------------------------------------------------------------------- resolution
@dataclass
class Resolved:
    """A profile applied to one strategy, dataset and trial.

    Attributes
    ----------
    profile : str or None
    strategy_params : dict
        The strategy's parameters (full nested names), explicit values kept.
    dataset_params : dict
        The dataset loader's parameters.
    trial : dict
        Trial settings (:class:`~refine.loop.TrialSpec` fields) the profile sets; the explicit
        ones given are kept.
    applied : list of str
        Names of the switches that set a value.
    skipped : list of str
        ``"switch: reason"`` for switches that could not be applied.
    """

    profile: str | None
    strategy_params: dict = field(default_factory=dict)
    dataset_params: dict = field(default_factory=dict)
    trial: dict = field(default_factory=dict)
    applied: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _merge(profile_side: dict, explicit: dict) -> dict:
    """``profile_side`` updated by ``explicit``; nested dicts merge, explicit leaves win."""
    out = copy.deepcopy(profile_side)
    for k, v in explicit.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = _merge(dict(out[k]), dict(v))
        else:
            out[k] = copy.deepcopy(v)
    return out


def normalize_params(spec: str, params: Mapping[str, Any] | None) -> dict:
    """``params`` of ``make_strategy(spec, ...)`` with short nested names made full.

    ``{"rounds": 3}`` for Refine becomes ``{"filter__rounds": 3}``, so that a profile's nested
    values and explicit ones meet under one key.
    """
    from refine.strategies.registry import make_strategy, resolve_nested

    params = dict(params or {})
    default = make_strategy(spec)
    direct = set(default.get_params(deep=False))
    out = {k: v for k, v in params.items() if k in direct}
    out.update(resolve_nested(spec, default, {k: v for k, v in params.items() if k not in direct}))
    return out


def _names(members) -> list:
    if isinstance(members, str):
        return [m.strip() for m in members.split(",") if m.strip()]
    return list(members or [])


def _member_slots(strategy) -> list[tuple[str, str, dict]]:
    """``(parameter holding the member's params, member name, role)`` for a built composite.

    The parameter is a ``{name: params}`` dict (``"filter__strategy_params"``,
    ``"strategy_params"``) or, with the member name ``""``, a params dict of its own
    (``"final_params"``, ``"strategy_kwargs"``, ``"typiclust_params"``).
    """
    name = strategy.name
    slots: list[tuple[str, str, str]] = []
    if name in ("refine", "filtered"):
        for m in _names(strategy.filter.strategies):
            if isinstance(m, str):
                slots.append(("filter__strategy_params", m, "member"))
        if name == "refine" and isinstance(strategy.final, str):
            slots.append(("final_params", strategy.final, "final"))
        if name == "filtered" and isinstance(strategy.strategy, str):
            slots.append(("strategy_kwargs", strategy.strategy, "final"))
    elif name == "tailor":
        for m in strategy._arm_names():
            slots.append(("strategy_params", m, "member"))
    elif name == "selectal":
        for attr in (
            "low_strategy",
            "high_strategy",
            "random_strategy",
            "surrogate_low",
            "surrogate_high",
        ):
            m = getattr(strategy, attr)
            if isinstance(m, str):
                slots.append(("strategy_params", m, "member"))
        slots.append(("strategy_params", "random", "member"))  # the random surrogate
    elif name == "tcm":
        slots += [
            ("typiclust_params", "typiclust", "member"),
            ("margin_params", "margin", "member"),
        ]
    elif name.startswith("autoal"):
        for m in _names(getattr(strategy, "strategies", ())):
            if isinstance(m, str) and "strategy_params" in strategy.get_params(deep=False):
                slots.append(("strategy_params", m, "member"))
    return slots


def _active(only: str | tuple[str, ...] | None) -> tuple[Switch, ...]:
    if only is None:
        return SWITCHES
    names = (only,) if isinstance(only, str) else tuple(only)
    return tuple(switch(n) for n in names)


def _strategy_side(
    profile: str,
    spec: str,
    params: dict,
    role: str,
    applied: set,
    active: tuple[Switch, ...] = SWITCHES,
) -> dict:
    """The profile's values for ``spec`` (and its members), in ``params``' key space."""
    from refine.strategies.registry import make_strategy

    built = make_strategy(spec, **params)
    own = set(built.get_params(deep=True))
    out: dict = {}
    for s in active:
        if s.kind != "strategy" or built.name not in s.target or s.parameter not in own:
            continue
        if s.role == "final" and role != "final":
            continue
        out[s.parameter] = s.value(profile)
        applied.add(s.name)
    for slot, member, member_role in _member_slots(built):
        current = params.get(slot) or {}
        if slot in ("filter__strategy_params", "strategy_params"):
            member_params = dict(current.get(member) or {})
            side = _strategy_side(profile, member, member_params, member_role, applied, active)
            if side:
                out.setdefault(slot, {})
                out[slot][member] = _merge(out[slot].get(member, {}), side)
        else:
            side = _strategy_side(profile, member, dict(current), member_role, applied, active)
            if side:
                out[slot] = _merge(out.get(slot, {}), side)
    return out


def loader_accepts(dataset: str, parameter: str) -> bool:
    """Whether ``load_dataset(dataset, parameter=...)`` takes ``parameter``."""
    from refine.datasets import dataset_entry

    try:
        from refine.datasets import transforms  # the pool transforms every loader takes
    except ImportError:
        transforms = None
    if transforms is not None and parameter in getattr(transforms, "POOL_TRANSFORM_PARAMS", ()):
        return True
    sig = inspect.signature(dataset_entry(dataset).loader)
    return parameter in sig.parameters or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values()
    )


def resolve(
    profile: str | None,
    strategy: str,
    params: Mapping[str, Any] | None = None,
    dataset: str | None = None,
    dataset_params: Mapping[str, Any] | None = None,
    trial: Mapping[str, Any] | None = None,
    only: str | tuple[str, ...] | None = None,
) -> Resolved:
    """Apply ``profile`` to one (strategy, params, dataset, dataset params, trial settings).

    Parameters
    ----------
    profile : {"published", "corrected"} or None
        None returns the inputs unchanged (the package defaults).
    strategy : str
        Registry spec (``"refine"``, ``"filtered:bait"``, ``"tailor"``).
    params : dict, optional
        Explicit strategy parameters (they win over the profile's; short nested names allowed).
    dataset : str, optional
        Dataset name; without it dataset and trial switches are not applied.
    dataset_params : dict, optional
        Explicit dataset loader parameters (they win).
    trial : dict, optional
        Explicit trial settings (:class:`~refine.loop.TrialSpec` fields such as ``subsample``,
        ``batch_size``); a value of None counts as not given.
    only : str or tuple of str, optional
        Apply only these switches (by name) and leave every other option at the package default:
        one row switched alone (``python -m reproduce divergences``).

    Returns
    -------
    Resolved
    """
    explicit_trial = {k: v for k, v in dict(trial or {}).items() if v is not None}
    if profile is None:
        return Resolved(
            None, dict(params or {}), dict(dataset_params or {}), explicit_trial, [], []
        )
    check_profile(profile)
    active = _active(only)
    applied: set[str] = set()
    skipped: list[str] = []
    user = normalize_params(strategy, params)
    side = _strategy_side(profile, strategy, user, "standalone", applied, active)
    strategy_params = _merge(side, user)

    ds_params = dict(dataset_params or {})
    trial_out = dict(explicit_trial)
    if dataset is not None:
        for s in active:
            v = s.value(profile, dataset)
            if v is NOT_APPLICABLE or not s.automatic:
                continue
            if s.kind == "dataset":
                if s.parameter in ds_params:
                    continue
                if not loader_accepts(dataset, s.parameter):
                    skipped.append(
                        f"{s.name}: dataset {dataset!r} does not take {s.parameter!r} "
                        "(its loader needs the pool-transform parameters)"
                    )
                    continue
                ds_params[s.parameter] = v
                applied.add(s.name)
            elif s.kind == "trial":
                if s.strategies is not None and strategy not in s.strategies:
                    continue
                if s.parameter in explicit_trial:
                    continue
                trial_out[s.parameter] = v
                applied.add(s.name)
    for msg in skipped:
        warnings.warn(f"profile {profile!r}: {msg}", ProfileWarning, stacklevel=2)
    order = [s.name for s in SWITCHES]
    return Resolved(
        profile,
        strategy_params,
        ds_params,
        trial_out,
        sorted(applied, key=order.index),
        skipped,
    )


def resolve_backbone(profile: str | None, backbone: str | None) -> str | None:
    """The backbone ``profile`` uses for a requested ``backbone`` (the CLIP row; else unchanged)."""
    if profile is None or backbone not in ("clip", "clip-b32"):
        return backbone
    return _BY_NAME["clip_backbone"].value(profile)


def profile_trial(
    spec,
    profile: str | None,
    dataset_params: Mapping[str, Any] | None = None,
    explicit: set[str] | frozenset[str] | None = None,
):
    """A :class:`~refine.loop.TrialSpec` with ``profile`` applied and recorded.

    Parameters
    ----------
    spec : TrialSpec
        Its ``strategy_params`` are explicit; trial settings named in ``explicit`` are kept (by
        default: the fields whose value differs from the TrialSpec default).
    profile : {"published", "corrected"} or None
    dataset_params : dict, optional
        Explicit loader parameters of ``spec.dataset``.
    explicit : set of str, optional
        TrialSpec fields given explicitly.

    Returns
    -------
    (TrialSpec, dict)
        The resolved spec (``profile`` set) and the resolved dataset parameters.
    """
    if profile is None:
        return spec, dict(dataset_params or {})
    fields = {f.name: f for f in dataclasses.fields(spec)}
    if explicit is None:
        explicit = {
            name
            for name in ("subsample", "batch_size")
            if getattr(spec, name) != fields[name].default
        }
    r = resolve(
        profile,
        spec.strategy,
        spec.strategy_params,
        spec.dataset,
        dataset_params,
        {k: getattr(spec, k) for k in explicit if k in fields},
    )
    changes = {k: v for k, v in r.trial.items() if k in fields}
    out = dataclasses.replace(spec, strategy_params=r.strategy_params, profile=profile, **changes)
    return out, r.dataset_params


def apply_to_run(
    profile: str | None,
    dataset: str,
    strategies: list[str],
    strategy_params: Mapping[str, Mapping[str, Any]],
    dataset_params: Mapping[str, Any] | None = None,
    trial: Mapping[str, Any] | None = None,
) -> tuple[dict[str, dict], dict, dict[str, dict]]:
    """:func:`resolve` for every strategy of one run (``refine run --profile``).

    Returns
    -------
    (dict, dict, dict)
        Per strategy its parameters; the dataset parameters (one load for the run); per strategy
        its trial settings (explicit ones kept; None where neither the user nor the profile set
        one).
    """
    per_params: dict[str, dict] = {}
    per_trial: dict[str, dict] = {}
    ds: dict | None = None
    for n in strategies:
        r = resolve(profile, n, strategy_params.get(n), dataset, dataset_params, trial)
        per_params[n] = r.strategy_params
        per_trial[n] = {**{k: None for k in (trial or {})}, **r.trial}
        if ds is not None and ds != r.dataset_params:
            raise ConfigError("profile resolved different dataset parameters per strategy")
        ds = r.dataset_params
    return per_params, dict(ds if ds is not None else (dataset_params or {})), per_trial


def describe(profile: str | None = None) -> list[dict]:
    """The switches as rows (name, where, published, corrected, default side, description)."""
    rows = []
    for s in SWITCHES:
        rows.append(
            {
                "switch": s.name,
                "where": s.where,
                "published": s.published,
                "corrected": s.corrected,
                "default": s.default_side,
                "description": s.description,
                **({"value": s.value(profile)} if profile else {}),
            }
        )
    return rows
