"""95% confidence intervals for the headline metrics, and how a verdict band is read from one.

Every interval is seeded (same inputs and seed, same interval) and cheap:

- accuracy: Poisson bootstrap of rows (``ACCURACY_REPLICATES`` replicates) over a fixed random
  subset of the measures (see ``fidelity.accuracy_interval``); the interval is the estimate
  ± z times the replicates' standard deviation;
- DCR share: a cluster bootstrap in which each training and holdout row carries the synthetic
  rows nearest to it (see ``privacy``), so a handful of holdout rows gives a wide interval;
- identical-match shares: Wilson score intervals; their difference: Newcombe's hybrid score
  interval (both analytic);
- discriminator AUC: Hanley & McNeil's standard error (analytic).

Intervals always contain their estimate and are clipped to [0, 1].
"""

from __future__ import annotations

import math

EN_DASH = "\u2013"
CONFIDENCE = 0.95
Z = 1.959964  # two-sided 95% normal quantile
# Replicates of the DCR share's cluster bootstrap and of the accuracy bootstrap: enough for a
# standard deviation within about 13% and 16%, which is what deciding a verdict band needs.
BOOTSTRAP_REPLICATES = 30
ACCURACY_REPLICATES = 20


def normal_interval(
    point: float | None, sd: float | None, low: float = 0.0, high: float = 1.0
) -> list[float] | None:
    """``point ± Z·sd`` clipped to [low, high]; None when either is missing."""
    if point is None or sd is None or not math.isfinite(sd):
        return None
    return [max(low, min(point, point - Z * sd)), min(high, max(point, point + Z * sd))]


def wilson(successes: int, n: int) -> list[float] | None:
    """Wilson score interval of a proportion; None without trials."""
    if n <= 0:
        return None
    p = successes / n
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / (1 + Z * Z / n)
    return [max(0.0, min(p, centre - half)), min(1.0, max(p, centre + half))]


def newcombe(k1: int, n1: int, k2: int, n2: int) -> list[float] | None:
    """Interval of p1 - p2 for two independent proportions (Newcombe 1998, method 10)."""
    first, second = wilson(k1, n1), wilson(k2, n2)
    if first is None or second is None:
        return None
    p1, p2 = k1 / n1, k2 / n2
    d = p1 - p2
    lower = d - math.sqrt((p1 - first[0]) ** 2 + (second[1] - p2) ** 2)
    upper = d + math.sqrt((first[1] - p1) ** 2 + (p2 - second[0]) ** 2)
    return [max(-1.0, lower), min(1.0, upper)]


def auc_interval(auc: float | None, positives: int, negatives: int) -> list[float] | None:
    """Interval of a ROC AUC from Hanley & McNeil's (1982) standard error."""
    if auc is None or positives < 1 or negatives < 1:
        return None
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    variance = (
        auc * (1 - auc) + (positives - 1) * (q1 - auc * auc) + (negatives - 1) * (q2 - auc * auc)
    ) / (positives * negatives)
    return normal_interval(auc, math.sqrt(max(variance, 0.0)))


def combine_mean(points: list[float], intervals: list[list[float] | None]) -> list[float] | None:
    """Interval of the mean of independent estimates from their (symmetric) intervals."""
    if not points or any(i is None for i in intervals):
        return None
    mean = sum(points) / len(points)
    half = math.sqrt(sum(((i[1] - i[0]) / 2) ** 2 for i in intervals)) / len(points)
    return normal_interval(mean, half / Z)


def width(interval: list[float] | None) -> float:
    """Width of an interval; infinite when there is none."""
    return math.inf if interval is None else interval[1] - interval[0]


def share_text(value: float, interval: list[float] | None, digits: int = 1) -> str:
    """``51.7% (95% CI 50.3-53.1%)`` (an en dash), or the share alone without an interval."""
    if interval is None:
        return f"{value:.{digits}%}"
    low, high = (f"{v * 100:.{digits}f}" for v in interval)
    return f"{value:.{digits}%} (95% CI {low}{EN_DASH}{high}%)"


def number_text(value: float, interval: list[float] | None, digits: int = 2) -> str:
    """``0.54 (95% CI 0.52-0.56)`` (an en dash), or the number alone without an interval."""
    if interval is None:
        return f"{value:.{digits}f}"
    return f"{value:.{digits}f} (95% CI {interval[0]:.{digits}f}{EN_DASH}{interval[1]:.{digits}f})"
