"""The active-learning loop on frozen features, with the paper's protocol (docs/protocol.md §3).

One *trial* is one (dataset, backbone, strategy, seed): an initial random pool of b instances,
then ``n_cycles`` cycles of select → reveal labels → retrain the head from its fixed initial
weights → test accuracy. The trial writes its tidy results table after every cycle, atomically,
together with the strategy's state, so a killed trial resumes where it stopped and ends with a
table identical to an uninterrupted run (timing columns aside: they are measurements).

Randomness (no global RNG): the trial's seed is the root of a :class:`numpy.random.SeedSequence`;
the initial pool, the head's initial weights and each cycle's subsample, selection and training
streams are children addressed by path (:mod:`refine.seeding`). The initial pool, head
initialisation and per-cycle subsamples do not depend on the strategy, so strategies compared at
one seed start from the same labeled pool and the same head (common random numbers).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import balanced_accuracy_score

from refine.context import SelectionContext
from refine.data import Dataset
from refine.device import kernel_device_for
from refine.environment import fingerprint
from refine.errors import ConfigError, ResultsConflictError, check_positive_int
from refine.head import HeadConfig, HeadTrainer
from refine.io import read_parquet_with_metadata, write_parquet_atomic
from refine.results import RESULT_COLUMNS, spec_identity
from refine.seeding import child_rng, child_seed, head_init_seed
from refine.strategies import Strategy, make_strategy

#: Columns that are measurements of the machine, not results: excluded from reproducibility checks.
TIMING_COLUMNS = ["selection_seconds", "training_seconds"]
FORMAT_VERSION = 1


def result_relpath(dataset: str, backbone: str, name: str, seed: int) -> Path:
    """A trial's results file relative to its folder: ``dataset/backbone/<name>/seed<N>.parquet``.

    ``name`` (the strategy label) with ``:`` and ``/`` made file-name safe.
    """
    safe = str(name).replace(":", "+").replace("/", "_")
    return Path(str(dataset)) / str(backbone) / safe / f"seed{int(seed)}.parquet"


@dataclass(frozen=True)
class TrialSpec:
    """Everything that determines one trial's results.

    Parameters
    ----------
    dataset, backbone : str
        Names for the results table (the data itself is passed to :func:`run_trial`).
    strategy : str
        Registry spec of the strategy (``"margin"``, ``"refine"``, ``"filtered:bait"``).
    seed : int
        Root seed of the trial.
    n_cycles : int
        AL cycles after the initial pool (20): ``n_cycles + 1`` accuracy points.
    batch_size : int
        Instances labeled per cycle, b (also the initial pool size).
    subsample : int or None
        Single strategies score a uniform random subsample of this many unlabeled instances per
        query (5000, the ``subset_size`` the published single strategies were run with; the
        published ensembles used the dataset config's 1000/2500/500, which the ``published``
        profile sets, :mod:`refine.profiles`); ``None`` = the whole pool.
        Strategies that manage the pool themselves (Refine, filtered strategies) always get the
        whole unlabeled pool.
    strategy_params : dict
        Constructor parameters of the strategy.
    head : HeadConfig
        Head training protocol.
    device : str
        Torch device for head training and torch-based strategies. On any device but the CPU
        the strategies' heavy kernels (herding, k-means, BAIT, BADGE, Coreset) run in torch
        there as well (``SelectionContext.kernel_device``); ``"cpu"`` keeps their numpy form.
    label : str, optional
        Name of the trial's strategy in the results (the ``strategy`` column and the file path);
        defaults to ``strategy``. Needed when one grid runs a strategy under several parameter
        settings (e.g. Table 2's ``filtered:random`` with R = 1..9).
    profile : str, optional
        The fidelity profile (:mod:`refine.profiles`: ``"published"`` or ``"corrected"``) whose
        values the other fields already hold (:func:`refine.profiles.profile_trial` resolves
        them). It is recorded with the results, so results of different profiles never mix:
        resuming or re-running into the same file with another profile is a
        :class:`~refine.errors.ResultsConflictError`. None: no profile (the package defaults).
    """

    dataset: str
    backbone: str
    strategy: str
    seed: int
    n_cycles: int = 20
    batch_size: int = 10
    subsample: int | None = 5000
    strategy_params: dict = field(default_factory=dict)
    head: HeadConfig = field(default_factory=HeadConfig)
    device: str = "cpu"
    label: str | None = None
    profile: str | None = None

    @property
    def name(self) -> str:
        """The strategy's name in the results (``label`` or the spec)."""
        return self.label or self.strategy

    def __post_init__(self) -> None:
        check_positive_int("seed", self.seed, minimum=0)
        check_positive_int("n_cycles", self.n_cycles, minimum=0)
        check_positive_int("batch_size", self.batch_size)
        if self.subsample is not None:
            check_positive_int("subsample", self.subsample)
        if self.profile is not None:
            from refine.profiles import check_profile

            check_profile(self.profile)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (what is stored with the results and compared on resume)."""
        d = asdict(self)
        d["head"] = asdict(self.head)
        return d

    def identity(self) -> dict[str, Any]:
        """What must match for stored results to belong to this trial (:func:`spec_identity`)."""
        return spec_identity(self.to_dict())

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrialSpec:
        d = dict(d)
        d["head"] = HeadConfig(**d["head"])
        return cls(**d)

    def result_path(self, out_dir: str | Path) -> Path:
        """Where this trial's results live under ``out_dir``."""
        return Path(out_dir) / result_relpath(self.dataset, self.backbone, self.name, self.seed)


def check_trial_fits_pool(dataset: Dataset, spec: TrialSpec) -> None:
    """Reject batch sizes the pool cannot serve for the whole trial."""
    need = spec.batch_size * (spec.n_cycles + 1)
    if spec.batch_size > dataset.n_train:
        raise ConfigError(
            f"batch_size={spec.batch_size} is larger than the pool ({dataset.n_train} instances); "
            f"allowed: 1..{dataset.n_train}"
        )
    if need > dataset.n_train:
        raise ConfigError(
            f"batch_size={spec.batch_size} × (n_cycles={spec.n_cycles} + 1) = {need} exceeds the "
            f"pool of {dataset.n_train} instances; lower --batch-size or --cycles"
        )


def initial_pool(n_pool: int, batch_size: int, seed: int) -> np.ndarray:
    """The trial's initial labeled pool: ``batch_size`` uniform draws without replacement."""
    return child_rng(seed, "initial-pool").choice(n_pool, size=batch_size, replace=False)


def _train_seed(seed: int, cycle: int) -> int:
    return int(child_rng(seed, "cycle", cycle, "train").integers(0, 2**63 - 1))


def run_trial(
    dataset: Dataset,
    spec: TrialSpec,
    out_dir: str | Path | None = None,
    resume: bool = False,
    on_cycle: Callable[[int, dict], None] | None = None,
    strategy: Strategy | None = None,
) -> pd.DataFrame:
    """Run (or resume) one AL trial and return its results table.

    Parameters
    ----------
    dataset : Dataset
        Pool and test features.
    spec : TrialSpec
        What to run.
    out_dir : path, optional
        Results folder. When given, the table is written to ``spec.result_path(out_dir)`` after
        every cycle (atomically, with the strategy state).
    resume : bool
        Continue a trial whose results file exists but is incomplete. Without ``resume`` an
        existing incomplete file is an error; a complete one is returned as is.
    on_cycle : callable, optional
        ``on_cycle(cycle, row)`` after each cycle's checkpoint (progress bars, tests).
    strategy : Strategy, optional
        A ready strategy instance (e.g. a user-defined class); default: built from ``spec``.

    Returns
    -------
    pandas.DataFrame
        One row per cycle with the columns of :data:`RESULT_COLUMNS`.
    """
    check_trial_fits_pool(dataset, spec)
    if strategy is None:
        strategy = make_strategy(spec.strategy, **spec.strategy_params)
    strategy.check_params()  # before anything is written
    path = spec.result_path(out_dir) if out_dir is not None else None
    rows: list[dict] = []
    # what the cycles were computed on (refine.environment): a resumed trial keeps the
    # environments of its earlier cycles beside the current one
    environments: list[dict] = []
    stored = stored_trial(spec, path, resume) if path is not None else None
    if stored is not None:
        df, meta = stored
        if meta.get("complete"):
            return df
        rows = df.to_dict("records")
        strategy.load_state_dict(meta.get("strategy_state") or {})
        environments = list(meta.get("environments") or [])
    if path is not None and fingerprint() not in environments:
        environments.append(fingerprint())

    seed = spec.seed
    X, y = dataset.X_train, dataset.y_train
    trainer = HeadTrainer(
        dataset.n_features, dataset.n_classes, head_init_seed(seed), spec.head, spec.device
    )
    b = spec.batch_size
    # "cpu": the numpy kernels, bit-identical to the reference; an accelerator: torch kernels there
    kernel_device = kernel_device_for(spec.device)

    def save(complete: bool) -> None:
        if path is None:
            return
        write_parquet_atomic(
            path,
            pd.DataFrame(rows, columns=RESULT_COLUMNS),
            {
                "spec": spec.to_dict(),
                "strategy_state": strategy.state_dict(),
                "complete": complete,
                "format_version": FORMAT_VERSION,
                "environments": environments,
            },
        )

    labeled = (
        np.concatenate([np.asarray(r["selected"], dtype=np.int64) for r in rows]) if rows else None
    )
    head = None
    if rows:
        # The head at the end of the last completed cycle (training is deterministic).
        head = trainer.fit(X[labeled], y[labeled], seed=_train_seed(seed, len(rows) - 1))

    for cycle in range(len(rows), spec.n_cycles + 1):
        trace: dict | None = None
        if cycle == 0:
            t0 = time.perf_counter()
            selected = initial_pool(dataset.n_train, b, seed)
            sel_seconds = time.perf_counter() - t0
            labeled = selected
        else:
            ctx = SelectionContext(
                X,
                labeled,
                y[labeled],
                dataset.n_classes,
                trainer,
                head,
                seed=child_seed(seed, "cycle", cycle, "context"),
                cycle=cycle,
                kernel_device=kernel_device,
            )
            candidates = ctx.unlabeled()
            if not strategy.manages_pool and spec.subsample and candidates.size > spec.subsample:
                sub_rng = child_rng(seed, "cycle", cycle, "subsample")
                candidates = np.sort(sub_rng.choice(candidates, spec.subsample, replace=False))
            t0 = time.perf_counter()
            ctx.prepare(strategy.requirements())
            selection = strategy.select_with_trace(
                ctx, candidates, b, child_rng(seed, "cycle", cycle, "select")
            )
            sel_seconds = time.perf_counter() - t0
            selected, trace = selection.indices, selection.trace
            strategy.observe(selected, y[selected], ctx)
            labeled = np.concatenate([labeled, selected])
        t0 = time.perf_counter()
        head = trainer.fit(X[labeled], y[labeled], seed=_train_seed(seed, cycle))
        train_seconds = time.perf_counter() - t0
        row = {
            "dataset": spec.dataset,
            "backbone": spec.backbone,
            "strategy": spec.name,
            "seed": seed,
            "cycle": cycle,
            "n_labeled": int(labeled.size),
            "accuracy": head.accuracy(dataset.X_test, dataset.y_test),
            "balanced_accuracy": balanced_accuracy_score(
                dataset.y_test, head.predict(dataset.X_test)
            ),
            "selected": np.asarray(selected, dtype=np.int64).tolist(),
            "selection_seconds": sel_seconds,
            "training_seconds": train_seconds,
            "trace": json.dumps(trace, sort_keys=True) if trace else "",
        }
        rows.append(row)
        save(complete=cycle == spec.n_cycles)
        if on_cycle is not None:
            on_cycle(cycle, row)
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)


def stored_trial(spec: TrialSpec, path: Path, resume: bool) -> tuple[pd.DataFrame, dict] | None:
    """The results stored for ``spec`` at ``path`` (None when there are none), checked.

    Raises
    ------
    ResultsConflictError
        When the file holds another configuration (the differing keys are named), or an
        unfinished trial and ``resume`` is False.
    """
    if not path.exists():
        return None
    df, meta = read_parquet_with_metadata(path)
    stored = spec_identity(meta.get("spec"))
    if stored != spec.identity():
        raise ResultsConflictError(
            f"{path} holds results of a different configuration for {spec.name} seed "
            f"{spec.seed}: {_dict_diff(stored, spec.identity())}. Use another --out folder."
        )
    if not meta.get("complete") and not resume:
        raise ResultsConflictError(
            f"{path} holds an unfinished trial ({len(df)} of {spec.n_cycles + 1} cycles); "
            "pass --resume to continue it"
        )
    return df, meta


def _dict_diff(a: dict, b: dict, prefix: str = "") -> str:
    keys = sorted(set(a) | set(b))
    diffs = []
    for k in keys:
        va, vb = a.get(k, "<missing>"), b.get(k, "<missing>")
        if isinstance(va, dict) and isinstance(vb, dict):
            sub = _dict_diff(va, vb, f"{prefix}{k}.")
            if sub:
                diffs.append(sub)
        elif va != vb:
            diffs.append(f"{prefix}{k}: stored {va!r} vs requested {vb!r}")
    return "; ".join(diffs)
