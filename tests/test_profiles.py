"""Fidelity profiles: each switch's published form reproduces the published code's behaviour on a
small case worked out independently, the corrected form is the paper's, explicit options win, and
no profile changes nothing."""

from __future__ import annotations

import dataclasses
import importlib.util
import inspect
import json
import math

import numpy as np
import pytest

from refine import profiles
from refine.errors import ConfigError, ResultsConflictError
from refine.head import HeadConfig, HeadTrainer
from refine.loop import TrialSpec, run_trial
from refine.profiles import (
    NOT_APPLICABLE,
    PROFILES,
    SWITCHES,
    ProfileWarning,
    profile_trial,
    resolve,
    switch,
)
from refine.results import spec_identity
from refine.strategies import make_strategy, strategy_class
from refine.strategies.base import Strategy
from tests.conftest import make_context

# loaders without the pool-transform parameters (before the data layer's) warn; tested below
pytestmark = pytest.mark.filterwarnings("ignore::refine.profiles.ProfileWarning")


def spec_of(target: str) -> str:
    """A registry spec for a switch target (``filtered`` is the composite ``filtered:NAME``)."""
    return "filtered:random" if target == "filtered" else target


def built(spec: str, profile: str, **explicit):
    return make_strategy(spec, **resolve(profile, spec, explicit).strategy_params)


# ---------------------------------------------------------------------------------- the table
def test_every_switch_is_complete_and_named_once():
    names = [s.name for s in SWITCHES]
    assert len(names) == len(set(names))
    for s in SWITCHES:
        assert s.kind in profiles.KINDS
        assert s.default_side in ("published", "corrected", "both")
        assert s.description and s.where
        if s.default_side != "both":
            assert s.published != s.corrected, s.name
    # every row of the audit is there
    assert {
        "bait_fisher_scaling",
        "tailor_arms",
        "selectal_schedule",
        "final_uherding_temperature",
        "pool_fraction",
        "esc50_split",
        "ensemble_subsample",
        "win_rate_variant",
        "herding_gain",
        "alfamix_anchors",
    } <= set(names)


@pytest.mark.parametrize("s", [s for s in SWITCHES if s.kind == "strategy"], ids=lambda s: s.name)
def test_package_defaults_are_the_side_the_table_says(s):
    """No profile = today's defaults; the table's ``default_side`` says which profile each is."""
    for target in s.target:
        params = make_strategy(spec_of(target)).get_params(deep=True)
        default = params[s.parameter]
        expected = s.published if s.default_side == "published" else s.corrected
        assert default == expected, (s.name, target, default)


def test_trial_and_dataset_defaults_are_the_side_the_table_says():
    fields = {f.name: f.default for f in dataclasses.fields(TrialSpec)}
    assert fields["subsample"] == switch("ensemble_subsample").corrected == 5000
    from refine.datasets import dataset_entry

    assert dataset_entry("snacks").batch_size == switch("snacks_batch_size").corrected == 20
    assert fields["profile"] is None


def test_no_profile_changes_nothing():
    params = {"rounds": 3}
    r = resolve(None, "refine", params, "digits", {"split_seed": 2}, {"subsample": None})
    assert r.strategy_params == params and r.dataset_params == {"split_seed": 2}
    assert r.trial == {} and r.applied == [] and r.profile is None
    spec = TrialSpec("digits", "raw", "selectal", 1)
    assert profile_trial(spec, None) == (spec, {})


def test_unknown_profile_is_a_config_error():
    with pytest.raises(ConfigError, match="profile.*corrected, published"):
        resolve("paper", "bait")
    with pytest.raises(ConfigError, match="profile"):
        TrialSpec("digits", "raw", "bait", 1, profile="nope")


# ---------------------------------------------------------------------------------- overrides
def test_explicit_options_override_the_profile_at_every_level():
    assert built("bait", "published").fisher_scaling == "dal"
    assert built("bait", "published", fisher_scaling="mean").fisher_scaling == "mean"
    # a member's explicit parameter inside the nested dict wins; the profile fills the rest
    r = resolve(
        "published",
        "refine",
        {"rounds": 2, "strategy_params": {"bait": {"fisher_scaling": "mean"}}},
    )
    p = r.strategy_params
    assert p["filter__rounds"] == 2
    assert p["filter__strategy_params"]["bait"] == {"fisher_scaling": "mean"}
    assert p["filter__strategy_params"]["uherding"]["gain"] == "published"
    assert p["final_params"] == {
        "gain": "published",
        "temperature_scope": "own",
        "zero_distances": "fallback",
    }
    r = resolve("published", "refine", {"final_params": {"temperature_scope": "shared"}})
    assert r.strategy_params["final_params"]["temperature_scope"] == "shared"
    assert r.strategy_params["final_params"]["gain"] == "published"
    # trial settings: an explicit subsample is kept
    spec = TrialSpec("cifar10", "dinov2", "tailor", 1, subsample=3000)
    assert profile_trial(spec, "published")[0].subsample == 3000


@pytest.mark.parametrize("profile", PROFILES)
def test_switches_reach_every_place_the_strategy_occurs(profile):
    """Refine's members and final step, filtered strategies, TAILOR's arms, TCM and SelectAL."""
    gain = switch("herding_gain").value(profile)
    scaling = switch("bait_fisher_scaling").value(profile)
    refine = built("refine", profile)
    members = {m.name: m for m in refine.filter._validate()}
    assert members["bait"].fisher_scaling == scaling
    assert members["uherding"].gain == members["maxherding"].gain == gain
    assert members["uherding"].temperature_scope == "shared"  # the members share T
    assert members["typiclust"].variant == switch("typiclust_rule").value(profile)
    assert members["alfamix"].anchor_mode == switch("alfamix_anchors").value(profile)
    final = refine._final()
    assert final.gain == gain
    assert final.temperature_scope == switch("final_uherding_temperature").value(profile)
    assert refine.filter.variant == switch("filter_variant").value(profile)
    assert built("filtered:bait", profile)._final().fisher_scaling == scaling
    tailor = built("tailor", profile)
    assert tailor.mode == switch("tailor_arms").value(profile)
    assert tailor.strategy_params["bait"]["fisher_scaling"] == scaling
    assert built("tcm", profile).typiclust_params["variant"] == switch("typiclust_rule").value(
        profile
    )
    sel = built("selectal", profile)
    assert sel.schedule_epochs == switch("selectal_schedule").value(profile)
    assert sel.strategy_params["typiclust"]["variant"] == switch("typiclust_rule").value(profile)
    for s in (refine, tailor, sel):
        s.check_params()


# ---------------------------------------------------------------------------------- BAIT
def test_bait_published_fisher_scaling_is_the_sum_of_three_chunk_means():
    """|L| = 70: dal-toolbox's F_L is mean(rows 0–31) + mean(rows 32–63) + mean(rows 64–69) of
    the per-instance Fisher matrices, here the binary ones p̂(1−p̂)·h hᵀ, written out directly."""
    ctx, _ = make_context(n=200, d=5, k=3, n_labeled=70, seed=4, epochs=20)
    H = ctx.X[ctx.labeled].astype(np.float64)
    p_hat = ctx.probas(ctx.labeled).astype(np.float64).max(axis=1)
    per = [p * (1 - p) * np.outer(h, h) for p, h in zip(p_hat, H, strict=True)]
    chunks = [per[0:32], per[32:64], per[64:70]]
    expected = sum(np.mean(c, axis=0) for c in chunks)
    FL = built("bait", "published")._labeled_fisher(ctx)
    np.testing.assert_allclose(FL, expected, rtol=1e-10, atol=1e-12)
    # the corrected (paper's) form is the plain mean: (32 + 32 + 6)/70 rows, not 3 means
    FL_mean = built("bait", "corrected")._labeled_fisher(ctx)
    np.testing.assert_allclose(FL_mean, np.mean(per, axis=0), rtol=1e-10, atol=1e-12)
    assert not np.allclose(FL, FL_mean)


# ---------------------------------------------------------------------------------- TAILOR
def test_tailor_published_queries_each_arm_with_batches_of_one(monkeypatch):
    ctx, cand = make_context(n=150, d=6, k=3, n_labeled=12, seed=2, epochs=10)
    calls: list[tuple[str, int]] = []
    original = Strategy.select_with_trace

    def recording(self, c, candidates, batch_size, rng):
        calls.append((self.name, batch_size))
        return original(self, c, candidates, batch_size, rng)

    monkeypatch.setattr(Strategy, "select_with_trace", recording)
    arms = ["random", "margin", "maxherding"]
    for profile, expect_one in (("published", True), ("corrected", False)):
        calls.clear()
        tailor = built("tailor", profile, strategies=arms)
        batch = tailor.select(ctx, cand, 6, np.random.default_rng(0))
        assert batch.size == 6
        arm_calls = [c for c in calls if c[0] != "tailor"]
        if expect_one:
            assert len(arm_calls) == 6 and all(b == 1 for _, b in arm_calls)
        else:  # ranked: each arm pulled ranks once, for the whole batch
            assert arm_calls and all(b == 6 for _, b in arm_calls)
            assert len(arm_calls) == len({n for n, _ in arm_calls})


# ---------------------------------------------------------------------------------- SelectAL
def test_selectal_published_retrains_with_the_200_epoch_schedule_stopped_after_50(monkeypatch):
    seen: list[HeadConfig] = []
    fit = HeadTrainer.fit

    def recording(self, X, y, seed):
        seen.append(self.config)
        return fit(self, X, y, seed)

    ctx, _ = make_context(n=120, d=4, k=3, n_labeled=30, seed=1, epochs=5)
    for profile in PROFILES:
        seen.clear()
        sel = built("selectal", profile, num_random_reps=1, num_val_reps=1, train_epochs=50)
        monkeypatch.setattr(HeadTrainer, "fit", recording)
        sel.decide(ctx, np.random.default_rng(0))
        monkeypatch.setattr(HeadTrainer, "fit", fit)
        retrain = [c for c in seen if c.epochs == 50]
        assert len(retrain) == 3  # random, low, high surrogates × 1 validation repeat
        lr_after_50 = retrain[0].epoch_lr(50)
        if profile == "published":
            # torch's CosineAnnealingLR(T_max=200) after 50 steps: 0.01·(1 + cos(π/4))/2
            assert lr_after_50 == pytest.approx(0.01 * (1 + math.cos(math.pi / 4)) / 2)
            assert round(lr_after_50, 4) == 0.0085
        else:
            assert lr_after_50 == pytest.approx(0.0, abs=1e-12)


# ---------------------------------------------------------------------------------- UHerding
def test_final_uherding_published_refits_its_own_temperature_on_a_new_split(monkeypatch):
    """Published: the final UHerding is a separate instance without the members' cache, so it
    fits a head on its own random 80 % of L at every call; the members fit once per cycle."""
    from refine.context import SelectionContext

    fits: list[tuple[str, tuple]] = []
    original = SelectionContext.fit_head

    def recording(self, idx, y, key="fit"):
        fits.append((key, tuple(sorted(int(i) for i in idx))))
        return original(self, idx, y, key)

    monkeypatch.setattr(SelectionContext, "fit_head", recording)
    ctx, cand = make_context(n=120, d=4, k=3, n_labeled=20, seed=3, epochs=5)
    member = make_strategy("uherding")
    final = built("refine", "published")._final()
    for _ in range(2):
        member.select(ctx, cand, 5, np.random.default_rng(0))
    shared = [f for k, f in fits if k == "uherding-temperature"]
    assert len(shared) == 1  # memoised for the cycle
    for _ in range(2):
        final.select(ctx, cand, 5, np.random.default_rng(0))
    own = [f for k, f in fits if k == "uherding-temperature-own"]
    assert len(own) == 2  # no cache: refit at every call
    n_train = 20 - math.ceil(0.2 * 20)
    assert all(len(f) == n_train for f in own + shared)  # 80/20 split of L
    assert own[0] != shared[0]  # its own random split, not the members'
    # the corrected profile shares the members' temperature: no further fit
    fits.clear()
    built("refine", "corrected")._final().select(ctx, cand, 5, np.random.default_rng(0))
    assert fits == []


def test_published_herding_gain_is_the_transposed_formula_written_out():
    """One greedy step with L non-empty: published score_i = u_i·mean_j max(K_ij − m_i, 0) over
    the candidates; paper score_c = mean_x max(K_xc − m_x, 0)·u_x. MaxHerding: u ≡ 1."""
    for seed in range(50):
        ctx, cand = make_context(n=40, d=3, k=2, n_labeled=3, seed=seed, epochs=2)
        F = ctx.normalized_features(cand).astype(np.float64)
        FL = ctx.normalized_features(ctx.labeled).astype(np.float64)
        K = np.exp(-((F[:, None] - F[None]) ** 2).sum(-1))
        m = np.exp(-((F[:, None] - FL[None]) ** 2).sum(-1)).max(axis=1)
        published = np.maximum(K - m[:, None], 0).mean(axis=1)
        paper = np.maximum(K - m[:, None], 0).mean(axis=0)
        if np.argmax(published) != np.argmax(paper):
            break
    else:  # pragma: no cover - the search above finds a differing case at once
        pytest.fail("no case where the two gains differ")
    pub = built("maxherding", "published").select(ctx, cand, 1, np.random.default_rng(0))
    cor = built("maxherding", "corrected").select(ctx, cand, 1, np.random.default_rng(0))
    assert pub[0] == cand[np.argmax(published)]
    assert cor[0] == cand[np.argmax(paper)]


# ---------------------------------------------------------------------------------- data rows
def test_dataset_rows_resolve_to_the_published_parameters(monkeypatch):
    """The 90 % pool (every dataset but ESC-50) and ESC-50's split mechanism are dataset
    parameters of the loaders (``pool_fraction``, ``split``)."""
    assert switch("pool_fraction").value("published", "cifar10") == 0.9
    assert switch("pool_fraction").value("corrected", "cifar10") == 1.0
    assert switch("pool_fraction").value("published", "esc50") is NOT_APPLICABLE
    assert switch("esc50_split").value("published", "esc50") == "published"
    assert switch("esc50_split").value("corrected", "esc50") == "corrected"
    assert switch("esc50_split").value("published", "cifar10") is NOT_APPLICABLE
    # resolution, given loaders that take the parameters
    monkeypatch.setattr(profiles, "loader_accepts", lambda dataset, parameter: True)
    r = resolve("published", "random", dataset="cifar10")
    assert r.dataset_params == {"pool_fraction": 0.9}
    assert resolve("published", "random", dataset="esc50").dataset_params == {"split": "published"}
    assert resolve("corrected", "random", dataset="esc50").dataset_params == {"split": "corrected"}
    explicit = resolve(
        "published", "random", dataset="cifar10", dataset_params={"pool_fraction": 1}
    )
    assert explicit.dataset_params == {"pool_fraction": 1}


def test_dataset_row_is_skipped_with_a_warning_where_the_loader_lacks_it(monkeypatch):
    monkeypatch.setattr(profiles, "loader_accepts", lambda dataset, parameter: False)
    with pytest.warns(ProfileWarning, match="pool_fraction"):
        r = resolve("published", "random", dataset="digits")
    assert r.dataset_params == {} and r.skipped and "pool_fraction" not in r.applied


def test_pool_fraction_is_taken_by_every_loader_when_the_pool_transforms_exist():
    has_transforms = importlib.util.find_spec("refine.datasets.transforms") is not None
    assert profiles.loader_accepts("digits", "pool_fraction") == has_transforms
    if has_transforms:  # the data layer's seeded 90 % pool: 45 000 of 50 000
        from refine.datasets.transforms import published_pool_indices

        assert published_pool_indices(50_000, 0.9).size == 45_000


@pytest.mark.parametrize(
    ("dataset", "expected"),
    [
        ("cifar10", 1000),
        ("snacks", 1000),
        ("dopanim", 1000),
        ("cifar100", 2500),
        ("food101", 2500),
        ("tiny_imagenet", 2500),
        ("esc50", 500),
    ],
)
def test_ensemble_baselines_use_the_dataset_configs_subset_size(dataset, expected):
    for ens in ("selectal", "tcm", "tailor"):
        spec = TrialSpec(dataset, "dinov2", ens, 1)
        assert profile_trial(spec, "published")[0].subsample == expected
        assert profile_trial(spec, "corrected")[0].subsample == 5000
    single = profile_trial(TrialSpec(dataset, "dinov2", "margin", 1), "published")[0]
    assert single.subsample == 5000  # single strategies: slurm/baselines.sh's 5000
    assert profile_trial(TrialSpec("digits", "raw", "tcm", 1), "published")[0].subsample == 5000


def test_win_rate_variant_is_a_named_metric_option():
    s = switch("win_rate_variant")
    assert s.kind == "metric" and s.target == ("win_rate_matrix",)
    assert profiles.metric_option("published", "win_rate_matrix", "variant") == "paper"
    assert profiles.metric_option(None, "win_rate_matrix", "variant") is None
    from refine import metrics

    if "variant" in inspect.signature(metrics.win_rate_matrix).parameters:
        assert {"paper", "evaluate_2"} <= set(metrics.WIN_RATE_VARIANTS)


def test_clip_backbone_is_named_and_never_rewritten_silently():
    assert profiles.resolve_backbone("published", "clip") == "clip-b32"
    assert profiles.resolve_backbone("corrected", "clip-b32") == "clip"
    assert profiles.resolve_backbone("published", "dinov2") == "dinov2"
    assert profiles.resolve_backbone(None, "clip") == "clip"
    assert "backbone" not in resolve("published", "random", dataset="digits").dataset_params


# ---------------------------------------------------------------------------------- trials
def _digits():
    from refine.datasets import load_dataset

    return load_dataset("digits")


def test_profile_is_recorded_and_results_of_two_profiles_never_mix(tmp_path):
    data = _digits()
    base = TrialSpec("digits", "raw", "bait", 1, n_cycles=1, head=HeadConfig(epochs=3))
    pub, _ = profile_trial(base, "published")
    cor, _ = profile_trial(base, "corrected")
    assert pub.profile == "published" and pub.strategy_params == {"fisher_scaling": "dal"}
    assert cor.strategy_params == {"fisher_scaling": "mean"}
    run_trial(data, pub, tmp_path)
    with pytest.raises(ResultsConflictError, match="profile"):
        run_trial(data, cor, tmp_path)
    # a spec stored before the profile field existed still matches a profile-less spec
    old = json.loads(json.dumps(base.to_dict()))
    del old["profile"]
    del old["head"]["schedule_epochs"]
    assert spec_identity(old) == base.identity()
    assert pub.identity() != base.identity()


def test_cli_run_profile_records_and_explicit_param_wins(tmp_path):
    from typer.testing import CliRunner

    from refine.cli import app
    from refine.io import read_parquet_with_metadata

    out = tmp_path / "r"
    args = ["run", "--strategy", "bait", "--cycles", "1", "--epochs", "3", "--out", str(out)]
    res = CliRunner().invoke(app, [*args, "--profile", "published", "-q"])
    assert res.exit_code == 0, res.output
    (path,) = out.rglob("*.parquet")
    meta = read_parquet_with_metadata(path)[1]
    assert meta["spec"]["profile"] == "published"
    assert meta["spec"]["strategy_params"]["fisher_scaling"] == "dal"
    out2 = tmp_path / "r2"
    res = CliRunner().invoke(
        app,
        [*args[:-1], str(out2), "--profile", "published", "--param", "fisher_scaling=mean", "-q"],
    )
    assert res.exit_code == 0, res.output
    (path,) = out2.rglob("*.parquet")
    assert read_parquet_with_metadata(path)[1]["spec"]["strategy_params"]["fisher_scaling"] == (
        "mean"
    )
    res = CliRunner().invoke(app, [*args, "--profile", "paper"])
    assert res.exit_code == 2 and "profile" in res.output


def test_registry_names_of_strategy_switches_exist():
    for s in SWITCHES:
        if s.kind == "strategy":
            for t in s.target:
                assert make_strategy(spec_of(t)).name == t
                if t != "filtered":
                    assert issubclass(strategy_class(t), Strategy)


# ---------------------------------------------------------------------------------- divergences
def test_paired_interval_by_hand():
    from reproduce.divergences import paired_effect

    # d = 1, 2, 3: mean 2, sd 1, t_{0.975, 2} = 4.302653 → 2 ± 4.302653/√3
    e = paired_effect(np.array([1.0, 2.0, 3.0]), np.zeros(3))
    assert e["diff"] == pytest.approx(2.0)
    assert e["lo"] == pytest.approx(2 - 4.302653 / np.sqrt(3), abs=1e-5)
    assert e["hi"] == pytest.approx(2 + 4.302653 / np.sqrt(3), abs=1e-5)
    assert e["verdict"] == "no detectable difference"
    e = paired_effect(np.array([1.0, 1.1, 0.9, 1.0]), np.zeros(4))
    assert e["verdict"] == "differs" and e["lo"] > 0


def test_divergence_rows_switch_exactly_one_row():
    """Both sides of a row run the same strategy, seeds and data and differ in that row only."""
    from reproduce.common import ReproduceRun
    from reproduce.divergences import ROWS, plan
    from reproduce.presets import get_preset

    trials, _ = plan(ReproduceRun(get_preset("cpu")))
    by = {}
    for t in trials:
        row, side = t.spec.name.rsplit("@", 1)
        by.setdefault((row, t.spec.dataset, t.spec.seed), {})[side] = t
    assert {r for r, _, _ in by} <= {r.switch for r in ROWS}
    assert len({s for _, _, s in by}) >= 10  # at least 10 paired seeds
    for (row, _, _), sides in by.items():
        pub, cor = sides["published"], sides["corrected"]
        a, b = pub.spec.to_dict(), cor.spec.to_dict()
        differing = {k for k in a if a[k] != b[k]} - {"label"}
        s = switch(row)
        if s.kind == "strategy":
            assert differing == {"strategy_params"}
            flat = json.dumps(a["strategy_params"]) + json.dumps(b["strategy_params"])
            assert s.parameter.rsplit("__", 1)[-1] in flat
        elif s.kind == "trial":
            assert differing == {s.parameter}
        else:
            assert differing == set() and pub.dataset_params != cor.dataset_params


def test_divergences_measure_the_90_percent_pool_on_both_cpu_datasets():
    """The pool_fraction row runs (Random, 10 paired seeds) on digits and synthetic, not skipped."""
    from reproduce.common import ReproduceRun
    from reproduce.divergences import CPU_DATASETS, plan
    from reproduce.presets import get_preset

    trials, skipped = plan(ReproduceRun(get_preset("cpu")))
    assert not [s for s in skipped if s["switch"] == "pool_fraction"], skipped
    rows = [t for t in trials if t.spec.name.startswith("pool_fraction@")]
    for dataset in CPU_DATASETS:
        mine = [t for t in rows if t.spec.dataset == dataset]
        assert {t.spec.strategy for t in mine} == {"random"}
        pub = sorted(t.spec.seed for t in mine if t.spec.name.endswith("@published"))
        cor = sorted(t.spec.seed for t in mine if t.spec.name.endswith("@corrected"))
        assert pub == cor and len(pub) >= 10
        fractions = {t.spec.name.rsplit("@", 1)[1]: t.dataset_params["pool_fraction"] for t in mine}
        assert fractions == {"published": 0.9, "corrected": 1.0}


def _fake_rows(switch_name: str, accuracy: float):
    import pandas as pd

    return pd.DataFrame(
        [
            {
                "dataset": "digits",
                "strategy": f"{switch_name}@{side}",
                "seed": seed,
                "cycle": cycle,
                "accuracy": accuracy + (0.01 if side == "published" else 0.0) + 0.001 * seed,
                "selected": [seed, cycle],
            }
            for side in ("published", "corrected")
            for seed in (1, 2, 3)
            for cycle in (0, 1)
        ]
    )


def test_divergences_rows_reruns_only_the_named_rows_and_keeps_the_others(tmp_path, monkeypatch):
    """``--rows pool_fraction`` runs that row's trials only, replaces its saved results, keeps the
    other saved rows as they were and puts the rows back in ROWS order; a wrong name is refused."""
    import pandas as pd

    from reproduce import divergences as dv
    from reproduce.common import ReproduceRun
    from reproduce.presets import get_preset

    run = ReproduceRun(get_preset("cpu"), figures=tmp_path / "fig", runs=tmp_path / "runs")
    run.quiet = True
    saved = pd.concat([_fake_rows("pool_fraction", 0.5), _fake_rows("herding_gain", 0.7)])
    raw = run.out_dir(dv.ARTEFACT) / "results_cpu.parquet"
    saved.to_parquet(raw, index=False)
    ran = []
    monkeypatch.setattr(
        dv, "run_grid", lambda trials, *a, **k: ran.extend(trials) or [{"ok": True}] * len(trials)
    )
    monkeypatch.setattr(
        dv, "_row_results", lambda run_dir, trials: _fake_rows("pool_fraction", 0.9)
    )
    dv.build(dataclasses.replace(run, rows=("pool_fraction",)))
    assert ran and {t.spec.name.rsplit("@", 1)[0] for t in ran} == {"pool_fraction"}
    after = pd.read_parquet(raw)
    switches = after.strategy.str.rsplit("@", n=1).str[0]
    assert switches.drop_duplicates().tolist() == ["herding_gain", "pool_fraction"]  # ROWS order
    kept = after[switches == "herding_gain"].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        kept[["strategy", "seed", "cycle", "accuracy"]],
        _fake_rows("herding_gain", 0.7)[["strategy", "seed", "cycle", "accuracy"]],
    )
    assert after[switches == "pool_fraction"].accuracy.min() >= 0.9  # the rerun replaced it
    table = pd.read_csv(run.out_dir(dv.ARTEFACT) / "divergences_cpu.csv")
    assert set(table.switch) == {"herding_gain", "pool_fraction"}
    with pytest.raises(ConfigError, match="--rows"):
        dv.build(dataclasses.replace(run, rows=("pool_fractoin",)))
