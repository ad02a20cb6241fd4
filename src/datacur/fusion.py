"""One score per image from many detectors, fitted on half of a review journal (issue 21).

Every detector column (ink statistics, label-book anchors, k-NN scores, out-of-fold model
confidence) is turned into its percentile rank within the variant, so weights fitted on one
variant apply to another of any size; a logistic regression on those ranks gives the fused
score. The journal is split by a fixed hash of the file name into a tuning half (weights
are fitted on it) and a reporting half (figures are measured on it), so no figure is
measured on the images that chose the weights. Pure arrays in, arrays out: re-fusing a
cached scan with other weights takes well under a second.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from datacur.errors import DatacurError

__all__ = [
    "DEFAULT_WEIGHTS",
    "LABEL_FREE_WEIGHTS",
    "FusionWeights",
    "JournalTruth",
    "fit_fusion",
    "journal_half",
    "load_journal_truth",
    "precision_at",
    "rank_normalize",
    "recall_at",
    "score_fusion",
]

HALVES = ("tune", "report")


def journal_half(path: str) -> str:
    """``"tune"`` or ``"report"``: a fixed split of images by a hash of the file name.

    Example:
        >>> journal_half("train/ii/ab2ddcea-ce5d-11eb-b317-38f9d35ea60f.png") in HALVES
        True
    """
    name = Path(path).name
    return HALVES[hashlib.sha256(name.encode("utf-8")).digest()[0] % 2]


def rank_normalize(values: np.ndarray) -> np.ndarray:
    """Each column's average-tie percentile rank in (0, 1]; deterministic, scale-free.

    Args:
        values: float (N, D).
    """
    from scipy.stats import rankdata

    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        return values.copy()
    return rankdata(values, axis=0, method="average") / len(values)


@dataclass(frozen=True)
class FusionWeights:
    """A logistic model over rank-normalised detector columns.

    Columns the weights name but the data lacks (no model run, no label book) are left
    out, so the same weights serve a label-free scan.
    """

    coef: Mapping[str, float]
    intercept: float = 0.0
    note: str = ""

    def to_json(self) -> str:
        """The weights as JSON (``version: 1``)."""
        payload = {
            "version": 1,
            "intercept": self.intercept,
            "coef": dict(self.coef),
            "note": self.note,
        }
        return json.dumps(payload, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, path: Path) -> FusionWeights:
        """Read weights written by :meth:`to_json`.

        Raises:
            DatacurError: missing file or bad content, naming the file.
        """
        try:
            payload = json.loads(Path(path).read_text(encoding="utf-8"))
            coef = {str(key): float(value) for key, value in payload["coef"].items()}
            return cls(coef, float(payload.get("intercept", 0.0)), str(payload.get("note", "")))
        except FileNotFoundError as err:
            raise DatacurError(f"{path}: weights file not found. Check --weights.") from err
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise DatacurError(
                f"{path}: not a fusion weights file ({err}). Write one with "
                "benchmarks/noise_quality.py --journal ... --save-weights."
            ) from err


DEFAULT_WEIGHTS = FusionWeights(
    coef={
        "ink_low": 0.205738,
        "ink_high": -0.818246,
        "faint": -0.567236,
        "contrast_low": 0.295561,
        "components": -1.326766,
        "small_parts": 0.642619,
        "main_part_low": -0.60283,
        "bbox_small": 0.145894,
        "margin_uneven": -0.130882,
        "density": -0.890756,
        "book_given": -0.459175,
        "book_any": -0.264846,
        "book_margin": 0.459853,
        "glyph_knn_distance": 1.056882,
        "glyph_knn_disagree": 2.157982,
        "model_given_low": 0.537738,
        "model_other_max": 0.601008,
        "model_entropy": 0.202576,
        "embed_knn_distance": 2.063204,
        "embed_knn_disagree": 1.724777,
    },
    intercept=-2.992686,
    note=(
        "fitted on the tuning half of recipes/reviews/dcai-2021.jsonl over datasets/dcai-2021, "
        "5-fold x 15-epoch out-of-fold predictions, label book anchors (issue 21)"
    ),
)
"""Shipped fusion weights for scans with the model (``benchmarks/noise_quality.py --journal
... --save-weights`` refits them). Negative weights are allowed: see :func:`fit_fusion`."""

LABEL_FREE_WEIGHTS = FusionWeights(
    coef={
        "ink_low": 0.384922,
        "ink_high": -0.571668,
        "faint": -0.41978,
        "contrast_low": 0.664679,
        "components": -1.260405,
        "small_parts": 0.745894,
        "main_part_low": -0.565034,
        "bbox_small": -0.107637,
        "margin_uneven": 0.212498,
        "density": -0.190156,
        "book_given": -0.491069,
        "book_any": -0.477573,
        "book_margin": 0.576232,
        "glyph_knn_distance": 0.902736,
        "glyph_knn_disagree": 3.816234,
    },
    intercept=-2.611385,
    note=(
        "fitted on the tuning half of recipes/reviews/dcai-2021.jsonl over datasets/dcai-2021, "
        "without the model (--no-model), label book anchors (issue 21)"
    ),
)
"""Shipped fusion weights for scans without the model."""


def score_fusion(
    names: Sequence[str], values: np.ndarray, weights: FusionWeights = DEFAULT_WEIGHTS
) -> np.ndarray:
    """Fused score in (0, 1) per image: logistic of the weighted percentile ranks.

    Args:
        names: column names of ``values``.
        values: float (N, D) detector columns, higher = more suspicious.
        weights: the fusion weights; columns absent from ``names`` are skipped.
    """
    ranks = rank_normalize(values)
    logit = np.full(len(values), float(weights.intercept))
    for column, name in enumerate(names):
        if name in weights.coef:
            logit += float(weights.coef[name]) * (ranks[:, column] - 0.5)
    return 1.0 / (1.0 + np.exp(-logit))


def fit_fusion(
    names: Sequence[str],
    values: np.ndarray,
    positives: np.ndarray,
    *,
    use: np.ndarray | None = None,
    c: float = 1.0,
    nonnegative: bool = False,
    note: str = "",
) -> FusionWeights:
    """Fit :class:`FusionWeights`: L2-penalised logistic regression on percentile ranks.

    Args:
        names, values: detector columns of every image of the variant (ranks are taken over
            all of them, as :func:`score_fusion` does).
        positives: bool (N,) the journal's drops and relabels.
        use: bool (N,) the images to fit on (the tuning half); all when None.
        c: inverse regularisation strength (as in scikit-learn).
        nonnegative: keep every weight >= 0 (every column is oriented so that higher is
            more suspicious). Off by default: on the dcai-2021 journal's reporting half the
            weights of any sign rank better (p@100 0.72 vs 0.62), trading on correlations
            between columns, which may carry over less well to another variant.
    """
    from scipy.optimize import minimize

    ranks = rank_normalize(values) - 0.5
    use = np.ones(len(values), dtype=bool) if use is None else np.asarray(use, dtype=bool)
    target = np.asarray(positives, dtype=bool)[use]
    if target.all() or not target.any():
        raise DatacurError(
            "the journal's tuning half has only one kind of image (all bad or all good); "
            "review more images before fitting fusion weights."
        )
    x = ranks[use]
    y = target.astype(np.float64)
    dims = x.shape[1]

    def loss(params: np.ndarray) -> tuple[float, np.ndarray]:
        coef, intercept = params[:dims], params[dims]
        logit = x @ coef + intercept
        # log(1 + e^z) - y z, summed; its gradient is (sigmoid(z) - y).
        value = float(np.sum(np.logaddexp(0.0, logit) - y * logit) + 0.5 / c * coef @ coef)
        residual = 1.0 / (1.0 + np.exp(-logit)) - y
        grad = np.append(x.T @ residual + coef / c, residual.sum())
        return value, grad

    bounds = [(0.0, None) if nonnegative else (None, None)] * dims + [(None, None)]
    result = minimize(
        loss,
        np.zeros(dims + 1),
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"maxiter": 2000},
    )
    coef = {name: round(float(w), 6) for name, w in zip(names, result.x[:dims], strict=True)}
    return FusionWeights(coef, round(float(result.x[dims]), 6), note)


@dataclass(frozen=True)
class JournalTruth:
    """What a review journal says about a variant's images.

    Attributes:
        positives: paths the journal drops or relabels.
        relabel_to: path -> the class the journal moves it to.
        covered: paths the journal's review covers (see :func:`load_journal_truth`).
    """

    positives: frozenset[str]
    relabel_to: Mapping[str, str] = field(default_factory=dict)
    covered: frozenset[str] = frozenset()


def load_journal_truth(journal: Path, paths: Sequence[str]) -> JournalTruth:
    """Read a review journal as ground truth over a variant's ``paths``.

    A journal with ``keep`` decisions covers only the images it decided; one with only
    drops and relabels is a full sweep that recorded changes (``recipes/reviews/dcai-2021.jsonl``
    is one: a review of the whole starter contact sheets), so it covers every image of the
    variant. Either way only paths present in the variant count.
    """
    from datacur.journal import read_journal

    decisions = read_journal(Path(journal))
    present = set(paths)
    positives = {path for path, d in decisions.items() if d.action in ("drop", "relabel")}
    relabel_to = {path: d.to for path, d in decisions.items() if d.action == "relabel"}
    has_keeps = any(d.action == "keep" for d in decisions.values())
    covered = set(decisions) & present if has_keeps else present
    return JournalTruth(
        frozenset(positives & covered),
        {path: to for path, to in relabel_to.items() if path in covered},
        frozenset(covered),
    )


def precision_at(order: Sequence[str], positives: frozenset[str] | set[str], k: int) -> float:
    """Share of the first ``k`` of ``order`` that are positives (k capped at the length)."""
    top = list(order[:k])
    return sum(path in positives for path in top) / len(top) if top else float("nan")


def recall_at(order: Sequence[str], positives: frozenset[str] | set[str], k: int) -> float:
    """Share of the positives found in the first ``k`` of ``order``."""
    if not positives:
        return float("nan")
    return sum(path in positives for path in order[:k]) / len(positives)
