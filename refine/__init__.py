"""refine: Refine — progressive filtering of unlabeled pools in deep active learning.

Reference implementation of Huseljic, Herde, Rauch, Hahn, Sick, "Cleaning the Pool: Progressive
Filtering of Unlabeled Pools in Deep Active Learning", arXiv 2511.22344.

``refine.select_batch`` and ``refine.Project`` are the practitioner API (imported lazily, so that
``import refine`` stays light).
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    if name in ("select_batch", "Project"):
        from refine import project

        return getattr(project, name)
    raise AttributeError(f"module 'refine' has no attribute {name!r}")
