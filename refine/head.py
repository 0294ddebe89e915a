"""The linear head on frozen features and its training protocol (docs/protocol.md §3).

Protocol of the paper and the published code: before every AL cycle the head is reset to the *same*
initial weights and trained from scratch for 200 epochs with minibatches of 64 (``drop_last`` when
``|L| > 64``), SGD with learning rate 0.01, momentum 0.9, Nesterov, weight decay 5e-4 (on weights
and bias, as ``torch.optim.SGD`` over ``model.parameters()`` does), and a cosine-annealed learning
rate stepped once per epoch.

The training loop is written out by hand on torch tensors: the cross-entropy gradient of a linear
layer is ``(softmax(XW^T + b) − onehot(y))/B`` times ``X``, so autograd and ``torch.optim`` add
nothing but per-step overhead. The update is exactly torch's SGD with Nesterov momentum
(``buf ← μ·buf + g``; ``p ← p − lr·(g + μ·buf)``, with ``buf = g`` on the first step) and the
learning rate is ``CosineAnnealingLR``'s closed form ``lr_e = lr·(1 + cos(π e / T))/2`` (T = the
epochs, or ``HeadConfig.schedule_epochs``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from refine.device import resolve_device
from refine.errors import ConfigError, DataError, check_positive_int


@dataclass(frozen=True)
class HeadConfig:
    """Hyperparameters of head training (defaults: the paper's protocol).

    Parameters
    ----------
    epochs : int
        Passes over the labeled set (200).
    batch_size : int
        Minibatch size (64); the last incomplete batch is dropped when ``|L| > batch_size``.
    lr, momentum, weight_decay : float
        SGD settings (0.01, 0.9, 5e-4), Nesterov momentum.
    nesterov : bool
        Use Nesterov momentum (True).
    cosine : bool
        Cosine-anneal the learning rate, stepped per epoch (True).
    schedule_epochs : int, optional
        Length T of the cosine schedule (``CosineAnnealingLR``'s ``T_max``); None = ``epochs``
        (anneal to 0 over the run). A T longer than ``epochs`` stops the schedule early: the
        published SelectAL retrains with T = 200 for 50 epochs, so its learning rate only falls
        to ``lr·(1 + cos(π/4))/2 ≈ 0.0085``.
    """

    epochs: int = 200
    batch_size: int = 64
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4
    nesterov: bool = True
    cosine: bool = True
    schedule_epochs: int | None = None

    def __post_init__(self) -> None:
        check_positive_int("epochs", self.epochs)
        if self.schedule_epochs is not None:
            check_positive_int("schedule_epochs", self.schedule_epochs)
        check_positive_int("head batch_size", self.batch_size)
        for name in ("lr", "momentum", "weight_decay"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                raise ConfigError(f"{name} must be a finite number >= 0, got {v!r}")
        if self.lr == 0:
            raise ConfigError("lr must be > 0")

    def epoch_lr(self, epoch: int) -> float:
        """Learning rate used during ``epoch`` (0-based)."""
        if not self.cosine:
            return self.lr
        t_max = self.epochs if self.schedule_epochs is None else self.schedule_epochs
        return self.lr * (1.0 + math.cos(math.pi * epoch / t_max)) / 2.0


class LinearHead:
    """A trained (or initial) linear classifier ``logits = X W^T + b``.

    Parameters
    ----------
    weight : ndarray of shape (K, D)
    bias : ndarray of shape (K,)
    """

    def __init__(self, weight: np.ndarray, bias: np.ndarray):
        self.weight = np.ascontiguousarray(weight, dtype=np.float32)
        self.bias = np.ascontiguousarray(bias, dtype=np.float32)
        if self.weight.ndim != 2 or self.bias.shape != (self.weight.shape[0],):
            raise DataError(
                f"head weight {self.weight.shape} and bias {self.bias.shape} do not fit"
            )

    @property
    def n_classes(self) -> int:
        return int(self.weight.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.weight.shape[1])

    def logits(self, X: np.ndarray, chunk: int = 65536) -> np.ndarray:
        """Logits ``X W^T + b`` (float32), computed in row chunks to bound memory."""
        X = np.asarray(X, dtype=np.float32)
        out = np.empty((X.shape[0], self.n_classes), dtype=np.float32)
        for s in range(0, X.shape[0], chunk):
            np.matmul(X[s : s + chunk], self.weight.T, out=out[s : s + chunk])
        out += self.bias
        return out

    def predict_proba(self, X: np.ndarray, temperature: float = 1.0) -> np.ndarray:
        """Softmax probabilities of ``logits / temperature``."""
        return softmax(self.logits(X) / np.float32(temperature))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predicted class indices."""
        return self.logits(X).argmax(axis=1)

    def accuracy(self, X: np.ndarray, y: np.ndarray) -> float:
        """Fraction of correctly classified rows."""
        return float(np.mean(self.predict(X) == np.asarray(y)))


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, numerically stable, in the input's float dtype."""
    z = logits - logits.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


def initial_weights(n_features: int, n_classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The initial head of a run: ``torch.nn.Linear``'s default init from a seeded generator.

    ``nn.Linear`` draws weight and bias from U(−1/√D, 1/√D) (Kaiming-uniform with a = √5); we draw
    the same distribution from an explicit :class:`torch.Generator`, so no global RNG is touched.
    """
    gen = torch.Generator().manual_seed(int(seed))
    bound = 1.0 / math.sqrt(n_features)
    w = (torch.rand(n_classes, n_features, generator=gen, dtype=torch.float32) * 2 - 1) * bound
    b = (torch.rand(n_classes, generator=gen, dtype=torch.float32) * 2 - 1) * bound
    return w.numpy(), b.numpy()


class HeadTrainer:
    """Trains a :class:`LinearHead` from fixed initial weights with the paper's protocol.

    Parameters
    ----------
    n_features, n_classes : int
        D and K. The initial weights are drawn once, at construction, from ``init_seed``, and every
        call of :meth:`fit` starts from them ("identical initial weights every cycle").
    init_seed : int
        Seed of the initial weights.
    config : HeadConfig
        Training hyperparameters.
    device : str
        ``"cpu"``, ``"cuda"`` or ``"auto"``.
    """

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        init_seed: int = 0,
        config: HeadConfig | None = None,
        device: str = "cpu",
    ):
        self.n_features = check_positive_int("n_features", n_features)
        self.n_classes = check_positive_int("n_classes", n_classes, minimum=2)
        self.init_seed = int(init_seed)
        self.config = config or HeadConfig()
        self.device = resolve_device(device)
        self.init_weight, self.init_bias = initial_weights(
            self.n_features, self.n_classes, self.init_seed
        )

    def with_classes(self, n_classes: int) -> HeadTrainer:
        """A trainer for more classes (the head grows when new classes appear).

        The first K rows keep their initial weights so that a grown head starts where the old one
        did for the classes it already knew.
        """
        if n_classes < self.n_classes:
            raise ConfigError(f"n_classes can only grow: {n_classes} < {self.n_classes}")
        grown = HeadTrainer(
            self.n_features, n_classes, self.init_seed, self.config, str(self.device)
        )
        grown.init_weight[: self.n_classes] = self.init_weight
        grown.init_bias[: self.n_classes] = self.init_bias
        return grown

    def initial_head(self) -> LinearHead:
        """The untrained head (what the loop starts every cycle from)."""
        return LinearHead(self.init_weight.copy(), self.init_bias.copy())

    def fit(self, X: np.ndarray, y: np.ndarray, seed: int) -> LinearHead:
        """Train from the initial weights on ``(X, y)``; ``seed`` fixes the minibatch order.

        Parameters
        ----------
        X : ndarray of shape (n, D)
            Features of the labeled instances.
        y : ndarray of shape (n,)
            Their labels in ``[0, K)``.
        seed : int
            Seed of the :class:`torch.Generator` that shuffles the minibatches.

        Returns
        -------
        LinearHead
            The trained head (numpy arrays on the CPU).
        """
        cfg = self.config
        n = int(X.shape[0])
        if n == 0:
            return self.initial_head()
        if X.shape[1] != self.n_features:
            raise DataError(f"features have dimension {X.shape[1]}, head expects {self.n_features}")
        dev = self.device
        Xt = torch.as_tensor(np.ascontiguousarray(X, dtype=np.float32), device=dev)
        yt = torch.as_tensor(np.asarray(y, dtype=np.int64), device=dev)
        if int(yt.max()) >= self.n_classes or int(yt.min()) < 0:
            raise DataError(
                f"labels must lie in [0, {self.n_classes}), got {int(yt.min())}..{int(yt.max())}"
            )
        W = torch.as_tensor(self.init_weight, device=dev).clone()
        b = torch.as_tensor(self.init_bias, device=dev).clone()
        bufW = torch.zeros_like(W)
        bufb = torch.zeros_like(b)
        eye = torch.eye(self.n_classes, device=dev, dtype=torch.float32)
        Y1 = eye[yt]  # one-hot targets, gathered per batch
        mu, wd, nesterov = cfg.momentum, cfg.weight_decay, cfg.nesterov
        bs = cfg.batch_size
        drop_last = n > bs  # the published code's DataLoader(drop_last=len(L) > batch_size)
        n_batches = n // bs if drop_last else math.ceil(n / bs)
        gen = torch.Generator(device="cpu").manual_seed(int(seed))
        first = True
        with torch.no_grad():
            for epoch in range(cfg.epochs):
                lr = cfg.epoch_lr(epoch)
                perm = torch.randperm(n, generator=gen).to(dev)
                for i in range(n_batches):
                    idx = perm[i * bs : (i + 1) * bs]
                    xb = Xt[idx]
                    logits = torch.addmm(b, xb, W.t())
                    # dL/dlogits of the mean cross-entropy
                    G = torch.softmax(logits, dim=1).sub_(Y1[idx]).div_(idx.numel())
                    gW = torch.addmm(W, G.t(), xb, beta=wd)  # G^T x + wd·W
                    gb = G.sum(0).add_(b, alpha=wd)
                    if mu > 0:
                        if first:
                            bufW.copy_(gW)
                            bufb.copy_(gb)
                        else:
                            bufW.mul_(mu).add_(gW)
                            bufb.mul_(mu).add_(gb)
                        if nesterov:
                            gW = gW.add_(bufW, alpha=mu)
                            gb = gb.add_(bufb, alpha=mu)
                        else:
                            gW, gb = bufW, bufb
                    W.sub_(gW, alpha=lr)
                    b.sub_(gb, alpha=lr)
                    first = False
        return LinearHead(W.cpu().numpy(), b.cpu().numpy())
