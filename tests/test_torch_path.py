"""The strategies' torch path (``SelectionContext(kernel_device=...)``) against the numpy path.

Kernel level: every torch kernel against the numpy function it mirrors, on inputs without
near-ties (continuous random data), called with the same random generator state. Tolerances:
float32 kernels (RBF rows, coverage, typicality, k-means centres) agree to 1e-5 absolute/relative
(different GEMM summation orders, ~1e-7 per entry); float64 ones (BAIT's Fisher matrices and
quadratic forms) to 1e-10 relative, well inside the 1e-5 asked for; index outputs (greedy picks,
k-means++ seeds, labels, nearest centres, BADGE and Coreset picks) are equal.

Strategy level: every registered strategy returns the same batch with ``kernel_device="cpu"`` as
with the numpy path (None), and the strategies with heavy kernels are checked to have actually
called the torch kernels. The device list is ``["cpu"]`` plus ``"cuda"`` when a GPU is present,
so the same code path runs everywhere and the CUDA cases are never the only ones.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from refine.context import SelectionContext
from refine.device import kernel_device_for, resolve_kernel_device
from refine.errors import ConfigError
from refine.head import HeadConfig
from refine.strategies import _clustering as nc
from refine.strategies import _herding as nh
from refine.strategies import _torch_bait as tb
from refine.strategies import _torch_clustering as tc
from refine.strategies import _torch_herding as th
from refine.strategies import available_strategies, badge, bait, coreset
from refine.strategies._distances import min_sq_distances
from refine.strategies._torch_common import float64_device, pool_tensor
from refine.strategies._torch_common import min_sq_distances as t_min_sq_distances
from refine.strategies.typiclust import typicality
from tests.conftest import build, make_pool

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _unit(X: np.ndarray) -> np.ndarray:
    return (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float32)


def _blobs(n: int, d: int, k: int, seed: int, spread: float = 0.3) -> np.ndarray:
    """Well-separated Gaussian blobs (float32): k-means has one clear optimum near the centres."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 4.0, size=(k, d))
    return (centres[np.arange(n) % k] + rng.normal(0, spread, size=(n, d))).astype(np.float32)


# ---------------------------------------------------------------------- context plumbing
def test_kernel_device_is_validated_and_names_the_parameter():
    assert resolve_kernel_device(None) is None
    assert resolve_kernel_device(" CPU ") == "cpu"
    with pytest.raises(ConfigError, match="kernel_device.*allowed"):
        resolve_kernel_device("gpu")
    X = np.zeros((4, 2), np.float32)
    with pytest.raises(ConfigError, match="kernel_device"):
        SelectionContext.from_arrays(X, kernel_device="tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="kernel_device.*not available"):
            SelectionContext.from_arrays(X, kernel_device="cuda")
    assert SelectionContext.from_arrays(X).kernel_device is None
    assert SelectionContext.from_arrays(X, kernel_device="cpu").kernel_device == "cpu"


def test_runs_on_the_cpu_keep_the_numpy_kernels():
    assert kernel_device_for("cpu") is None
    assert kernel_device_for("auto") == (None if not torch.cuda.is_available() else "cuda")


def test_pool_features_move_to_the_device_once_per_context():
    X = np.random.default_rng(0).normal(size=(50, 4)).astype(np.float32)
    ctx = SelectionContext.from_arrays(X, kernel_device="cpu")
    a, b = pool_tensor(ctx), pool_tensor(ctx)
    assert a is b  # memoised
    assert np.shares_memory(a.numpy(), ctx.X)  # on the CPU device: no copy of the pool
    n = pool_tensor(ctx, normalized=True)
    np.testing.assert_allclose(n.numpy(), ctx.normalized_features(), rtol=0, atol=0)


def test_float64_kernels_leave_mps_for_the_cpu():
    # MPS has no float64: BAIT's, BADGE's and Coreset's kernels run in torch on the CPU there
    assert float64_device(torch.device("mps")) == torch.device("cpu")
    assert float64_device("cpu") == torch.device("cpu")


# ---------------------------------------------------------------------- herding
@pytest.mark.parametrize("device", DEVICES)
def test_rbf_block_and_coverage_match_numpy(device):
    rng = np.random.default_rng(1)
    F = _unit(rng.normal(size=(70, 12)))
    A, B = F[:40], F[40:]
    ref = nh.rbf_block(A, nh.sq_norms(A), B, nh.sq_norms(B), 3.0)
    got = th.rbf_block(A, nh.sq_norms(A), B, nh.sq_norms(B), 3.0, device=device)
    np.testing.assert_allclose(got.cpu().numpy(), ref, rtol=1e-5, atol=1e-6)
    # a duplicate gets kernel value exactly 1 on both paths (the snapping of tiny distances)
    dup = th.rbf_block(A[:1], nh.sq_norms(A[:1]), A[:1], nh.sq_norms(A[:1]), 3.0, device=device)
    assert float(dup[0, 0]) == 1.0
    m_ref = nh.labeled_coverage(A, B, 3.0)
    m_got = th.labeled_coverage(A, B, 3.0, device=device).cpu().numpy()
    np.testing.assert_allclose(m_got, m_ref, rtol=1e-5, atol=1e-6)
    assert not th.labeled_coverage(A, B[:0], 3.0, device=device).any()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("budget", [512.0, 0.05])  # kernel kept / rows recomputed
def test_kernel_rows_match_numpy(device, budget):
    F = _unit(np.random.default_rng(2).normal(size=(120, 6)))
    ref = nh.RBFKernel(F, 2.0, budget)
    got = th.TorchRBFKernel(torch.as_tensor(F, device=device), 2.0, budget)
    assert got.stored == ref.stored == (budget > 1)
    idx = np.array([5, 0, 119, 64])
    rows = got.rows(torch.as_tensor(idx, device=device)).cpu().numpy()
    np.testing.assert_allclose(rows, ref.rows(idx), rtol=1e-5, atol=1e-6)
    assert (rows[np.arange(4), idx] == 1.0).all()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("gain", ["paper", "published"])
@pytest.mark.parametrize("budget", [512.0, 0.05])
def test_herding_greedy_picks_match_numpy(device, gain, budget):
    rng = np.random.default_rng(3)
    F = _unit(rng.normal(size=(260, 10)))
    C, L = F[:220], F[220:]
    u = rng.uniform(0.1, 1.0, size=220).astype(np.float32)
    m0 = nh.labeled_coverage(C, L, 1.5)
    kw = dict(gamma=1.5, u=u, gain=gain, memory_budget_mb=budget)
    ref_trace: list = []
    got_trace: list = []
    ref = nh.herding_greedy(C, 25, m0=m0, rng=np.random.default_rng(0), trace=ref_trace, **kw)
    got = th.herding_greedy(
        C, 25, m0=m0, rng=np.random.default_rng(0), trace=got_trace, device=device, **kw
    )
    np.testing.assert_array_equal(got, ref)
    np.testing.assert_allclose([g for _, g in got_trace], [g for _, g in ref_trace], rtol=1e-5)


@pytest.mark.parametrize("gain", ["paper", "published"])
def test_herding_greedy_takes_the_exact_argmax_each_step(gain):
    # brute force, independent of the numpy path: recompute every gain densely at every step
    rng = np.random.default_rng(4)
    F = _unit(rng.normal(size=(90, 5)))
    u = rng.uniform(0.2, 1.0, size=90)
    trace: list = []
    picks = th.herding_greedy(F, 12, gamma=2.0, u=u, gain=gain, trace=trace, device="cpu")
    K = np.exp(-2.0 * ((F[:, None, :].astype(np.float64) - F[None, :, :]) ** 2).sum(-1))
    m = np.zeros(90)
    for c, g in zip(picks, (g for _, g in trace), strict=True):
        if gain == "paper":
            gains = (np.maximum(K - m[None, :], 0) * u[None, :]).mean(axis=1)
        else:
            gains = u * np.maximum(K - m[:, None], 0).mean(axis=1)
        gains[picks[: list(picks).index(c)]] = -np.inf
        assert c == int(np.argmax(gains))
        assert g == pytest.approx(gains[c], rel=1e-5)
        m = np.maximum(m, K[c])


def test_herding_fills_at_random_like_numpy_once_gains_vanish():
    # 6 distinct points, each 5 times: after 6 picks every gain is 0, the rest is a random fill
    base = _unit(np.random.default_rng(5).normal(size=(6, 4)))
    F = np.repeat(base, 5, axis=0)
    ref = nh.herding_greedy(F, 10, gamma=1.0, rng=np.random.default_rng(9))
    got = th.herding_greedy(F, 10, gamma=1.0, rng=np.random.default_rng(9), device="cpu")
    np.testing.assert_array_equal(got, ref)
    assert np.unique(F[got[:6]], axis=0).shape[0] == 6
    with pytest.raises(ConfigError, match="rng is required"):
        th.herding_greedy(F, 10, gamma=1.0, device="cpu")


# ---------------------------------------------------------------------- clustering
@pytest.mark.parametrize("device", DEVICES)
def test_kmeans_plusplus_takes_the_same_seeds(device):
    X = np.random.default_rng(6).normal(size=(400, 12)).astype(np.float32)
    for k in (1, 7, 60):
        ref = nc.kmeans_plusplus(X, k, np.random.default_rng(k))
        got = tc.kmeans_plusplus(X, k, np.random.default_rng(k), device=device)
        np.testing.assert_array_equal(got, ref)
    # duplicates: both stop at the number of distinct rows
    D = np.repeat(X[:5], 4, axis=0)
    ref = nc.kmeans_plusplus(D, 12, np.random.default_rng(0))
    got = tc.kmeans_plusplus(D, 12, np.random.default_rng(0), device=device)
    np.testing.assert_array_equal(got, ref)
    assert got.size == 5


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("k", [2, 9, 40])
def test_kmeans_matches_scikit_learn(device, k):
    X = _blobs(500, 16, 9, seed=k)
    rng_ref, rng_got = np.random.default_rng(k), np.random.default_rng(k)
    c_ref, l_ref = nc.kmeans(X, k, rng_ref)
    c_got, l_got = tc.kmeans(X, k, rng_got, device=device)
    np.testing.assert_array_equal(l_got, l_ref)
    np.testing.assert_allclose(c_got, c_ref, rtol=1e-5, atol=1e-5)
    assert rng_got.random() == rng_ref.random()  # the same number of draws was taken


def test_lloyd_in_blocks_matches_scikit_learn(monkeypatch):
    # the blocked assignment and centre sums (large pools) against one block and scikit-learn
    X = _blobs(700, 6, 5, seed=3)
    init = X[[0, 1, 2, 3, 4, 5, 6]]
    c_one, l_one = tc.lloyd(torch.as_tensor(X), torch.as_tensor(init))
    monkeypatch.setattr(tc, "_ONEHOT_ROWS", 64)
    monkeypatch.setattr(tc, "_ASSIGN_ROWS", 100)
    c_blk, l_blk = tc.lloyd(torch.as_tensor(X), torch.as_tensor(init))
    from sklearn.cluster import KMeans

    est = KMeans(n_clusters=7, init=init, n_init=1).fit(X)
    for c, labels in ((c_one, l_one), (c_blk, l_blk)):
        np.testing.assert_array_equal(labels.numpy(), est.labels_)
        np.testing.assert_allclose(c.numpy(), est.cluster_centers_, rtol=1e-5, atol=1e-5)


def test_lloyd_relocates_an_empty_cluster_as_scikit_learn():
    from sklearn.cluster import KMeans

    X = _blobs(300, 4, 3, seed=1)
    init = np.vstack([X[0], X[1], X[2], np.full(4, 1e3, np.float32)])  # the last one is empty
    est = KMeans(n_clusters=4, init=init, n_init=1).fit(X)
    centres, labels = tc.lloyd(torch.as_tensor(X), torch.as_tensor(init))
    np.testing.assert_array_equal(labels.numpy(), est.labels_)
    np.testing.assert_allclose(centres.numpy(), est.cluster_centers_, rtol=1e-5, atol=1e-5)
    assert np.bincount(labels.numpy(), minlength=4).min() > 0


@pytest.mark.parametrize("device", DEVICES)
def test_nearest_to_centres_and_minibatch_match(device):
    X = _unit(_blobs(600, 8, 12, seed=2))
    ref = nc.nearest_to_centres(X, 12, np.random.default_rng(1))
    got = tc.nearest_to_centres(X, 12, np.random.default_rng(1), device=device)
    np.testing.assert_array_equal(got, ref)
    _, l_ref = nc.kmeans(X, 60, np.random.default_rng(2), minibatch=True)
    _, l_got = tc.kmeans(X, 60, np.random.default_rng(2), minibatch=True, device=device)
    np.testing.assert_array_equal(l_got, l_ref)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("metric", ["sqeuclidean", "euclidean"])
def test_typicality_matches(device, metric):
    F = np.random.default_rng(7).normal(size=(150, 9)).astype(np.float32)
    for k, budget in ((20, 256.0), (3, 0.01)):
        ref = typicality(F, k, metric, budget)
        got = tc.typicality(F, k, metric, budget, device=device)
        np.testing.assert_allclose(got, ref, rtol=1e-5)
    assert np.isinf(tc.typicality(F[:1], 5, device=device)).all()
    assert tc.typicality(F[:0], 5, device=device).size == 0


# ---------------------------------------------------------------------- BADGE and Coreset
@pytest.mark.parametrize("device", DEVICES)
def test_badge_seeding_matches(device):
    rng = np.random.default_rng(8)
    P = rng.dirichlet(np.ones(6), size=300)
    H = rng.normal(size=(300, 10))
    Q, H = badge.gradient_factors(P, H)
    ref = badge.kmeanspp_seeding(Q, H, 40, np.random.default_rng(3))
    got = tc.badge_seeding(Q, H, 40, np.random.default_rng(3), device=device)
    np.testing.assert_array_equal(got, ref)
    # every D² zero after 3 distinct points: the uniform fallback takes the same draws
    Qd, Hd = np.repeat(Q[:3], 4, axis=0), np.repeat(H[:3], 4, axis=0)
    ref = badge.kmeanspp_seeding(Qd, Hd, 8, np.random.default_rng(4))
    got = tc.badge_seeding(Qd, Hd, 8, np.random.default_rng(4), device=device)
    np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("device", DEVICES)
def test_min_distances_and_k_center_match(device):
    X = np.random.default_rng(9).normal(size=(300, 7))
    A, B = X[:250], X[250:]
    for budget in (512.0, 0.001):
        ref = min_sq_distances(A, B, memory_budget_mb=budget)
        got = t_min_sq_distances(A, B, memory_budget_mb=budget, device=device)
        np.testing.assert_allclose(got.cpu().numpy(), ref, rtol=1e-12, atol=1e-12)
    ref = coreset.k_center_greedy(A, 30, min_sq_distances(A, B))
    got = tc.k_center_greedy(A, 30, min_sq_distances(A, B), device=device)
    np.testing.assert_array_equal(got, ref)
    cold = np.full(250, np.inf)
    ref = coreset.k_center_greedy(A, 10, cold.copy(), first=17)
    got = tc.k_center_greedy(A, 10, cold.copy(), first=17, device=device)
    np.testing.assert_array_equal(got, ref)


# ---------------------------------------------------------------------- BAIT
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("likelihood", ["binary_cross_entropy", "cross_entropy"])
def test_bait_algebra_matches(device, likelihood):
    rng = np.random.default_rng(10)
    P = rng.dirichlet(np.ones(4), size=200)
    H = rng.normal(size=(200, 6))
    R = bait.fisher_factors(P, likelihood)
    w = np.full(200, 1 / 200)
    F_ref = bait.fisher_matrix(H, R, w, 64)
    F_got = tb.fisher_matrix(H, R, w, 64, device=device).cpu().numpy()
    np.testing.assert_allclose(F_got, F_ref, rtol=1e-10, atol=1e-14)
    if R.shape[2] == 1:  # the rank-n update is mirrored from one triangle: exactly symmetric
        assert (F_got == F_got.T).all()
    M = np.linalg.inv(F_ref + np.eye(F_ref.shape[0]))
    q_ref = bait.quad_forms(H, R, M, 0.3, 50)
    q_got = tb.quad_forms(H, R, M, 0.3, 50, device=device).cpu().numpy()
    np.testing.assert_allclose(q_got, q_ref, rtol=1e-10, atol=1e-14)
    for b, n_forward in ((8, 16), (8, 8), (5, 13)):
        ref = bait.FisherGreedy(H[:150], R[:150], F_ref, M, 0.3, 64).run(b, n_forward)
        t = [torch.as_tensor(a, device=device) for a in (H[:150], R[:150], F_ref, M)]
        got = tb.TorchFisherGreedy(*t, 0.3, 64).run(b, n_forward)
        np.testing.assert_array_equal(got, ref)
        # float32 rows: the torch engine holds them and picks the numpy float32 engine's batch
        ref32 = bait.FisherGreedy(H[:150], R[:150], F_ref, M, 0.3, 64, np.float32)
        eng32 = tb.TorchFisherGreedy(*t, 0.3, 64, torch.float32)
        assert eng32.H_rows.dtype == torch.float32
        np.testing.assert_array_equal(eng32.run(b, n_forward), ref32.run(b, n_forward))


# ---------------------------------------------------------------------- strategies
#: strategy → the torch entry points its selection must call on the torch path
TORCH_ENTRY = {
    "maxherding": {"herding_select"},
    "uherding": {"herding_select"},
    "bait": {"bait_select"},
    "badge": {"badge_select"},
    "coreset": {"coreset_select"},
    "typiclust": {"kmeans_of", "typicality"},
    "inv_typiclust": {"kmeans_of", "typicality"},
    "alfamix": {"nearest_centres_of"},
    "dropquery": {"nearest_centres_of"},
    "refine": {"herding_select", "bait_select", "badge_select", "kmeans_of", "nearest_centres_of"},
}


@pytest.fixture
def torch_calls(monkeypatch):
    """Names of the torch entry points called during the test (wrapped, still run)."""
    calls: set[str] = set()
    modules = {
        th: ["herding_select"],
        tb: ["bait_select"],
        tc: [
            "badge_select",
            "coreset_select",
            "kmeans_of",
            "nearest_centres_of",
            "typicality",
        ],
    }
    for module, names in modules.items():
        for name in names:
            fn = getattr(module, name)

            def spy(*args, _fn=fn, _name=name, **kwargs):
                calls.add(_name)
                return _fn(*args, **kwargs)

            monkeypatch.setattr(module, name, spy)
    return calls


def _context(kernel_device, n_labeled=20, seed=0):
    """``tests.conftest.make_context``'s pool (continuous blobs: no near-ties) on a kernel device."""
    X, y = make_pool(300, 8, 4, seed)
    rng = np.random.default_rng(seed + 1)
    labeled = rng.choice(300, size=n_labeled, replace=False) if n_labeled else np.array([], int)
    ctx = SelectionContext.from_arrays(
        X,
        labeled_idx=labeled,
        labels=y[labeled],
        n_classes=4,
        seed=seed,
        head_config=HeadConfig(epochs=50),
        kernel_device=kernel_device,
    )
    return ctx, ctx.unlabeled()


#: (|L|, b) of the strategy-level comparisons; |L| = 4 leaves ALFA-Mix enough flipped candidates
#: to cluster. Larger b on this pool gives two-member k-means clusters, whose members are exactly
#: equidistant from the centre (an exact tie either path may break either way).
SETTINGS = ((20, 8), (40, 12), (4, 8))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", available_strategies())
def test_every_strategy_selects_the_numpy_batch_on_the_torch_path(name, device, torch_calls):
    settings = SETTINGS[:1] if name in ("refine", "autoal") else SETTINGS
    for n_labeled, b in settings:
        ref_ctx, cand = _context(None, n_labeled)
        seen = set(torch_calls)
        ref = build(name).select(ref_ctx, cand, b, np.random.default_rng(3))
        assert torch_calls == seen  # the numpy path never touches the torch kernels
        ctx, _ = _context(device, n_labeled)
        got = build(name).select(ctx, cand, b, np.random.default_rng(3))
        np.testing.assert_array_equal(got, ref)
    assert TORCH_ENTRY.get(name, set()) <= torch_calls


@pytest.mark.parametrize("name", [s for s in available_strategies() if s in TORCH_ENTRY])
def test_cold_start_and_repeat_runs_agree(name, torch_calls):
    if build(name).label_free:  # an empty L: Coreset's random first centre, coverage from 0
        ref_ctx, cand = _context(None, 0)
        ref = build(name).select(ref_ctx, cand, 10, np.random.default_rng(5))
        got = build(name).select(_context("cpu", 0)[0], cand, 10, np.random.default_rng(5))
        np.testing.assert_array_equal(got, ref)
    # same seed, fresh context: the same batch (no hidden state, no global randomness)
    (c1, cand), (c2, _) = _context("cpu", 4), _context("cpu", 4)
    a = build(name).select(c1, cand, 8, np.random.default_rng(1))
    b = build(name).select(c2, cand, 8, np.random.default_rng(1))
    np.testing.assert_array_equal(a, b)
    assert torch_calls


def test_the_torch_path_reads_nothing_undeclared():
    from tests.test_strategy_requirements import RecordingContext

    for name in available_strategies():
        strategy = build(name)
        ctx, cand = _context("cpu")
        proxy = RecordingContext(ctx)
        strategy.select(proxy, cand, 8, np.random.default_rng(0))
        undeclared = proxy.reads - strategy.requirements()
        assert not undeclared, f"{name} reads {sorted(undeclared)} on the torch path"


def test_select_batch_on_the_cpu_keeps_the_numpy_kernels(torch_calls):
    from refine.project import select_batch

    X, y = make_pool(200, 6, 3, 0)
    labels = np.full(200, -1)
    labels[:12] = y[:12]
    select_batch(X, labels, 5, strategy="badge", seed=1, head_epochs=5, device="cpu")
    assert not torch_calls


@pytest.mark.parametrize(
    "name, params",
    [
        ("bait", dict(fisher_scaling="dal", fisher_batch_size=8)),
        ("bait", dict(grad_likelihood="cross_entropy", oversampling=1.0)),
        ("bait", dict(grad_likelihood="cross_entropy", expectation_topk=2)),
        ("typiclust", dict(variant="original")),  # 52 clusters at |L| = 40: mini-batch k-means
        ("inv_typiclust", dict(metric="euclidean", max_clusters=10)),
        ("maxherding", dict(gain="published", memory_budget_mb=0.05)),
        ("uherding", dict(gain="published", zero_distances="exclude")),
        ("coreset", dict(memory_budget_mb=0.001)),
        # the large-pool rule draws its subsample before the kernels, on both paths alike
        ("maxherding", dict(large_pool=100, pool_sample=60)),
        ("uherding", dict(large_pool=100, pool_sample=60)),
        ("bait", dict(large_pool=100, pool_sample=60)),
        # float32 rows in the greedy steps, on both paths
        ("bait", dict(precision="float32")),
        ("bait", dict(precision="float32", grad_likelihood="cross_entropy")),
    ],
)
def test_non_default_variants_match(name, params, torch_calls):
    from refine.strategies import make_strategy

    for n_labeled, b in SETTINGS[:2]:
        ref_ctx, cand = _context(None, n_labeled)
        ref = make_strategy(name, **params).select(ref_ctx, cand, b, np.random.default_rng(2))
        ctx, _ = _context("cpu", n_labeled)
        got = make_strategy(name, **params).select(ctx, cand, b, np.random.default_rng(2))
        np.testing.assert_array_equal(got, ref)
    assert TORCH_ENTRY[name] <= torch_calls


def test_parallel_draws_on_the_torch_path_give_the_serial_batch():
    from refine.strategies import make_strategy

    batches = []
    for n_jobs in (1, 2):
        ctx, cand = _context("cpu")
        strategy = make_strategy("refine", n_jobs=n_jobs, rounds=2, draws_per_strategy=3)
        batches.append(strategy.select(ctx, cand, 8, np.random.default_rng(4)))
    np.testing.assert_array_equal(batches[1], batches[0])
