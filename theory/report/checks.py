"""One Monte Carlo check of the report: a measured probability, its interval, a bound, a verdict.

Reference: Huseljic et al., arXiv 2511.22344, Theorems 1-2 (Section 4, Appendix A). The verdict
rule is the interval's: a lower bound holds when the interval reaches it, an upper bound when the
interval starts below it, an exact prediction when the interval contains it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DELTA", "Check", "fmt"]

DELTA = 1e-6  # failure probability of every interval in the report


def fmt(x: float) -> str:
    """Four decimals, or three significant digits for very small or large numbers."""
    x = float(x)
    if x == 0:
        return "0"
    if abs(x) < 1e-3 or abs(x) >= 1e4:
        return f"{x:.3g}"
    return f"{x:.4f}"


@dataclass
class Check:
    """One comparison of a measured probability with a bound or prediction.

    Attributes
    ----------
    name
        Row label in the report.
    measured, lo, hi
        Point estimate and interval (failure probability :data:`DELTA`).
    target
        The bound or the exact prediction.
    kind
        ``">="``: the bound holds from below; ``"<="``: from above; ``"=="``: exact prediction
        inside the interval; ``"<"``: the claimed lower bound is *violated* (the whole interval
        lies below it).
    rigorous
        Whether the interval is rigorous (``False``: approximate, marked in the report).
    """

    name: str
    measured: float
    lo: float
    hi: float
    target: float
    kind: str
    rigorous: bool = True

    @property
    def ok(self) -> bool:
        if self.kind == ">=":
            return self.hi >= self.target
        if self.kind == "<=":
            return self.lo <= self.target
        if self.kind == "<":
            return self.hi < self.target
        return self.lo <= self.target <= self.hi

    def cells(self) -> list[str]:
        """The four cells of the report's check tables."""
        approx = "" if self.rigorous else " (approx.)"
        return [
            self.name,
            f"{fmt(self.measured)} [{fmt(self.lo)}, {fmt(self.hi)}]{approx}",
            f"{self.kind} {fmt(self.target)}",
            "pass" if self.ok else "**FAIL**",
        ]
