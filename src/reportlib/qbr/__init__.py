"""Partner quarterly business reviews: health score, benchmarks, insights, one deck per partner."""

from . import schema  # noqa: F401  (registers the qbr domain)
