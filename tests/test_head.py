"""The linear head follows the paper's protocol exactly (docs/protocol.md §3)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from refine.errors import ConfigError, DataError
from refine.head import HeadConfig, HeadTrainer, LinearHead, softmax


def reference_fit(trainer: HeadTrainer, X, y, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The protocol written with torch's own nn.Linear, SGD, CosineAnnealingLR and DataLoader-
    equivalent batching (same permutation stream), as in the published code."""
    cfg = trainer.config
    lin = torch.nn.Linear(X.shape[1], trainer.n_classes)
    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy(trainer.init_weight))
        lin.bias.copy_(torch.from_numpy(trainer.init_bias))
    opt = torch.optim.SGD(
        lin.parameters(),
        lr=cfg.lr,
        momentum=cfg.momentum,
        nesterov=cfg.nesterov,
        weight_decay=cfg.weight_decay,
    )
    t_max = cfg.epochs if cfg.schedule_epochs is None else cfg.schedule_epochs
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=t_max)
    gen = torch.Generator().manual_seed(seed)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    n = len(X)
    drop_last = n > cfg.batch_size
    for _ in range(cfg.epochs):
        perm = torch.randperm(n, generator=gen)
        stop = n - n % cfg.batch_size if drop_last else n
        for s in range(0, stop, cfg.batch_size):
            idx = perm[s : s + cfg.batch_size]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(lin(Xt[idx]), yt[idx]).backward()
            opt.step()
        sched.step()
    return lin.weight.detach().numpy(), lin.bias.detach().numpy()


@pytest.mark.parametrize("n", [7, 64, 65, 300])
@pytest.mark.parametrize("schedule_epochs", [None, 30, 5])
def test_matches_torch_sgd_nesterov_cosine(n, schedule_epochs):
    # T_max = epochs (default), T_max > epochs (SelectAL's published 200-for-50 schedule, scaled)
    # and T_max < epochs (torch's cosine then rises again after T_max)
    rng = np.random.default_rng(n)
    X = rng.normal(size=(n, 12)).astype(np.float32)
    y = rng.integers(0, 5, n).astype(np.int64)
    cfg = HeadConfig(epochs=9, schedule_epochs=schedule_epochs)
    tr = HeadTrainer(12, 5, init_seed=3, config=cfg)
    head = tr.fit(X, y, seed=11)
    W, b = reference_fit(tr, X, y, 11)
    np.testing.assert_allclose(head.weight, W, atol=2e-6)
    np.testing.assert_allclose(head.bias, b, atol=2e-6)


def test_initial_weights_identical_every_fit_and_like_nn_linear():
    tr = HeadTrainer(16, 4, init_seed=5)
    w0 = tr.init_weight.copy()
    X = np.random.default_rng(0).normal(size=(20, 16)).astype(np.float32)
    tr.fit(X, np.arange(20) % 4, seed=1)
    np.testing.assert_array_equal(tr.init_weight, w0)  # fit never mutates the initial weights
    np.testing.assert_array_equal(HeadTrainer(16, 4, init_seed=5).init_weight, w0)
    assert np.abs(w0).max() <= 1 / np.sqrt(16)  # U(-1/sqrt(D), 1/sqrt(D)) as nn.Linear
    assert not np.array_equal(HeadTrainer(16, 4, init_seed=6).init_weight, w0)


def test_same_seed_same_head_different_seed_different_head():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(150, 8)).astype(np.float32)
    y = rng.integers(0, 3, 150)
    tr = HeadTrainer(8, 3, init_seed=0, config=HeadConfig(epochs=5))
    a, b, c = tr.fit(X, y, 1), tr.fit(X, y, 1), tr.fit(X, y, 2)
    np.testing.assert_array_equal(a.weight, b.weight)
    assert not np.array_equal(a.weight, c.weight)


def test_learns_separable_blobs():
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 5, size=(3, 6))
    y = np.arange(90) % 3
    X = (centres[y] + rng.normal(0, 0.3, size=(90, 6))).astype(np.float32)
    head = HeadTrainer(6, 3, init_seed=1).fit(X, y, seed=0)
    assert head.accuracy(X, y) == 1.0


def test_empty_labeled_set_returns_initial_head():
    tr = HeadTrainer(4, 3, init_seed=2)
    head = tr.fit(np.zeros((0, 4), np.float32), np.zeros(0, np.int64), seed=0)
    np.testing.assert_array_equal(head.weight, tr.init_weight)


def test_cosine_schedule_closed_form():
    cfg = HeadConfig(epochs=4, lr=0.1)
    assert [round(cfg.epoch_lr(e), 6) for e in range(4)] == [0.1, 0.085355, 0.05, 0.014645]
    assert HeadConfig(cosine=False).epoch_lr(100) == 0.01
    # the default schedule length is the number of epochs
    same = HeadConfig(epochs=4, lr=0.1, schedule_epochs=4)
    assert [same.epoch_lr(e) for e in range(4)] == [cfg.epoch_lr(e) for e in range(4)]


def test_schedule_longer_than_training_selectal_published():
    """SelectAL's published retraining: T_max = 200, stopped after 50 epochs. torch's scheduler
    after 50 steps holds lr·(1 + cos(50π/200))/2 = 0.01·(1 + √2/2)/2 = 0.0085355."""
    cfg = HeadConfig(epochs=50, schedule_epochs=200)
    expected = 0.01 * (1 + np.sqrt(2) / 2) / 2
    assert cfg.epoch_lr(50) == pytest.approx(expected, rel=1e-12)
    assert round(expected, 4) == 0.0085
    opt = torch.optim.SGD(torch.nn.Linear(2, 2).parameters(), lr=0.01)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=200)
    lrs = []
    for _ in range(50):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert [cfg.epoch_lr(e) for e in range(50)] == pytest.approx(lrs, rel=1e-9)
    assert opt.param_groups[0]["lr"] == pytest.approx(expected, rel=1e-9)
    # the default (T = epochs) anneals to 0 instead
    assert HeadConfig(epochs=50).epoch_lr(50) == pytest.approx(0.0, abs=1e-15)


def test_grown_head_keeps_known_rows():
    tr = HeadTrainer(5, 3, init_seed=4)
    g = tr.with_classes(5)
    np.testing.assert_array_equal(g.init_weight[:3], tr.init_weight)
    assert g.init_weight.shape == (5, 5)
    with pytest.raises(ConfigError):
        tr.with_classes(2)


def test_bad_inputs():
    with pytest.raises(ConfigError, match="epochs"):
        HeadConfig(epochs=0)
    with pytest.raises(ConfigError, match="schedule_epochs"):
        HeadConfig(schedule_epochs=0)
    with pytest.raises(ConfigError, match="device"):
        HeadTrainer(3, 2, device="tpu")
    tr = HeadTrainer(3, 2)
    with pytest.raises(DataError, match="labels"):
        tr.fit(np.zeros((2, 3), np.float32), np.array([0, 5]), seed=0)
    with pytest.raises(DataError, match="dimension"):
        tr.fit(np.zeros((2, 4), np.float32), np.array([0, 1]), seed=0)


def test_softmax_and_logits_chunking():
    rng = np.random.default_rng(0)
    head = LinearHead(rng.normal(size=(4, 3)), rng.normal(size=4))
    X = rng.normal(size=(10, 3)).astype(np.float32)
    np.testing.assert_allclose(head.logits(X, chunk=3), X @ head.weight.T + head.bias, rtol=1e-6)
    p = softmax(head.logits(X))
    np.testing.assert_allclose(p.sum(1), 1, rtol=1e-6)
    np.testing.assert_allclose(
        head.predict_proba(X, temperature=2.0), softmax(head.logits(X) / 2), rtol=1e-6
    )
