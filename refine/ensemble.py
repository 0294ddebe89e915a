"""Refine's default ensemble (published code: ``build_al_strategies`` in dal-toolbox)."""

#: The nine strategies of the published Refine configuration; Random is a member.
DEFAULT_ENSEMBLE = (
    "random",
    "margin",
    "badge",
    "bait",
    "typiclust",
    "alfamix",
    "dropquery",
    "maxherding",
    "uherding",
)
