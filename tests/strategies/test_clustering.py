"""k-means gives the same clusters whatever the OpenMP thread count of the caller.

scikit-learn sums the centres per thread; without the one-thread limit of
:mod:`refine.strategies._clustering` the centres of 2 threads differ from those of 1 in the last
bits (checked before the fix), which made filtering results depend on the machine and ``n_jobs``.
"""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from refine.strategies._clustering import kmeans


@pytest.mark.parametrize("minibatch", [False, True])
def test_kmeans_independent_of_openmp_threads(minibatch):
    X = np.random.default_rng(0).standard_normal((3000, 16)).astype(np.float32)
    runs = []
    for threads in (1, 2):
        with threadpool_limits(limits=threads, user_api="openmp"):
            runs.append(kmeans(X, 20, np.random.default_rng(0), minibatch=minibatch))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])  # bitwise equal centres
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
