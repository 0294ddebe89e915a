"""Trials of different artefacts that compute the same thing run once, across the grid folders.

Several artefacts plan trials that another artefact's grid already holds under another name:
the divergences table's default side of a row (``final_uherding_temperature@published`` is the
main grid's Refine, written with the default parameters spelled out), Fig. 5's single strategies
and its filtered UHerding (``filtered:uherding`` computes what ``refine`` does). Running them
again costs minutes and gives the same rows.

:func:`computation_key` says what a trial computes, whatever it is called: its spec without the
label, the profile record and result-neutral parameters (``n_jobs``), the strategy described by
its full parameters with the defaults filled in (:meth:`Refine.computation` for filtered
strategies), and the loader parameters of its data. :class:`Computations` keeps, per preset's
run folder, an index of finished computations (``computations.json``: key → result file); a
trial whose computation is in it gets a copy of that result file in its own folder, under its
own name (the rows' ``strategy`` column and the stored spec are the trial's; ``adopted_from``
names the file the rows come from), and is then finished like any other. Every artefact reads
its own folder as before, so its tables and figures are those of running the trial itself.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from refine.grid import GridTrial, finished_record
from refine.io import atomic_path, read_parquet_with_metadata, write_parquet_atomic
from refine.parallel import is_result_neutral
from refine.results import spec_identity

INDEX = "computations.json"

Grids = list[tuple[list[GridTrial], Path]]


def _plain(obj: Any) -> Any:
    """JSON-able values only: anything else (an estimator instance) makes a trial unshareable."""
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item") and not hasattr(obj, "__len__"):  # numpy scalars
        return obj.item()
    raise TypeError(f"not a plain value: {type(obj).__name__}")


def computation_key(trial: GridTrial) -> str | None:
    """What ``trial`` computes, as a canonical string (None: not comparable, never shared).

    Two trials with equal keys give the same rows: the same data (dataset, backbone, loader
    parameters), seed, cycles, batch size, subsample, head protocol and device, and a strategy of
    the same class with the same parameters once defaults are filled in.
    """
    from refine.strategies.refine import Filtered, Refine
    from refine.strategies.registry import make_strategy

    spec = trial.spec
    identity = spec_identity(spec.to_dict())
    for name in ("strategy", "strategy_params", "label", "profile"):
        identity.pop(name, None)
    try:
        strategy = make_strategy(spec.strategy, **spec.strategy_params)
    except Exception:  # a strategy the registry cannot build is never shared
        return None
    if isinstance(strategy, (Refine, Filtered)):
        what: Any = strategy.computation()
    else:
        cls = type(strategy)
        params = strategy.get_params(deep=True)
        what = {
            "class": f"{cls.__module__}.{cls.__qualname__}",
            "params": {k: v for k, v in params.items() if not is_result_neutral(k)},
        }
    try:
        return json.dumps([identity, what, trial.dataset_params], sort_keys=True, default=_plain)
    except (TypeError, ValueError):
        return None


class Computations:
    """The finished computations under one preset's run folder, and copies of them on request.

    Parameters
    ----------
    root : path
        ``results/reproduce/<preset>/``: every grid folder of the preset is below it.
    """

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.path = self.root / INDEX

    # ------------------------------------------------------------------ the index
    def _read(self) -> dict[str, dict]:
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}

    def _write(self, index: dict[str, dict]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        with atomic_path(self.path) as tmp:
            tmp.write_text(json.dumps(index, sort_keys=True, indent=0))

    def _lender(self, index: dict[str, dict], key: str | None) -> Path | None:
        """The finished result file of computation ``key`` (None: unknown, gone or replaced)."""
        entry = index.get(key) if key is not None else None
        if entry is None:
            return None
        path = self.root / entry["path"]
        try:
            _, meta = read_parquet_with_metadata(path)
        except Exception:
            return None
        if not meta.get("complete") or spec_identity(meta.get("spec")) != entry["identity"]:
            return None
        return path

    # ------------------------------------------------------------------ sharing
    def adopt(self, lender: Path, trial: GridTrial, out_dir: str | os.PathLike) -> Path:
        """Copy the finished ``lender`` file as ``trial``'s results in ``out_dir``."""
        df, meta = read_parquet_with_metadata(lender)
        df = df.assign(strategy=trial.spec.name)
        meta["spec"] = trial.spec.to_dict()
        try:
            meta["adopted_from"] = str(lender.relative_to(self.root))
        except ValueError:
            meta["adopted_from"] = str(lender)
        target = trial.spec.result_path(out_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        write_parquet_atomic(target, df, meta)
        return target

    def share(self, grids: Grids) -> tuple[Grids, int]:
        """Adopt every known computation; return the grids to run and the number adopted.

        What is left to run holds one trial per computation: a trial whose computation another
        pending trial of ``grids`` already has is left out, and :meth:`record` gives it that
        trial's rows after the run.
        """
        index = self._read()
        pending: set[str] = set()
        out: Grids = []
        adopted = 0
        for trials, out_dir in grids:
            keep = []
            for t in trials:
                if finished_record(t, str(out_dir)) is not None:
                    keep.append(t)
                    continue
                key = computation_key(t)
                lender = self._lender(index, key)
                if lender is not None and lender != t.spec.result_path(out_dir):
                    self.adopt(lender, t, out_dir)
                    adopted += 1
                    keep.append(t)
                elif key is None or key not in pending:
                    if key is not None:
                        pending.add(key)
                    keep.append(t)
            out.append((keep, out_dir))
        return out, adopted

    def record(self, grids: Grids) -> int:
        """Index the finished trials of ``grids``; copy them to their unfinished equivalents.

        Returns the number of trials given a copy.
        """
        index = self._read()
        changed = False
        for trials, out_dir in grids:
            for t in trials:
                if finished_record(t, str(out_dir)) is None:
                    continue
                key = computation_key(t)
                if key is None or self._lender(index, key) is not None:
                    continue
                path = t.spec.result_path(out_dir)
                index[key] = {
                    "path": str(path.relative_to(self.root)),
                    "identity": t.spec.identity(),
                }
                changed = True
        if changed:
            self._write(index)
        adopted = 0
        for trials, out_dir in grids:
            for t in trials:
                if finished_record(t, str(out_dir)) is not None:
                    continue
                lender = self._lender(index, computation_key(t))
                if lender is not None:
                    self.adopt(lender, t, out_dir)
                    adopted += 1
        return adopted


def shared_keys(trials: Iterable[GridTrial]) -> dict[str, list[GridTrial]]:
    """Trials grouped by computation, for the groups of more than one (a planning aid)."""
    groups: dict[str, list[GridTrial]] = {}
    for t in trials:
        key = computation_key(t)
        if key is not None:
            groups.setdefault(key, []).append(t)
    return {k: v for k, v in groups.items() if len(v) > 1}
