"""Agent detectors behind one interface, grouped cross-validation, distillation and evaluation.

A :class:`Cohort` holds a trajectory table and the features of its units
(:func:`phantom_lib.detection.features.session_features`). Every detector has the same method
``score(cohort) -> pandas.Series``: the probability that each unit is an agent, indexed by unit
id, computed out of sample:

* :class:`RuleDetector`: the original rule, agent if at least 12 interactions, at least 0.2
  events/s and a conversion (purchases / interactions) of at most 0.01; a hard 0/1 score;
* :class:`KLDetector`: the KL gap f = sigmoid(g / T) of :mod:`phantom_lib.behaviour.distinguish`, leave-one-out
  centroids; units it cannot score (fewer than 2 events, no shared source event) get 0.5;
* :class:`LearnedDetector`: any :class:`FeatureModel`, scored out of fold over grouped splits
  (:func:`grouped_splits`: every leakage group, hence every experiment, on one side only). The
  models: :class:`BoostedModel` (scikit-learn's HistGradientBoostingClassifier, probabilities
  calibrated by a sigmoid fitted on inner grouped folds) and :class:`NetModel` (a small torch
  network, shared encoder with an agent head and, in the multi-task variant, a purchase head).

The learned models are in :mod:`phantom_lib.detection.models`; evaluation and the comparison of
detectors in :mod:`phantom_lib.detection.comparison`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd

from phantom_lib._arrays import FloatArray, IntArray
from phantom_lib._validation import (
    Constraint,
    Integer,
    Real,
    Validated,
    relation,
)
from phantom_lib.behaviour.distinguish import ScoreConfig, score_table
from phantom_lib.detection.features import (
    FEATURES,
    PURCHASE,
    UNITS,
    before_purchase,
    epoch_ns,
    session_features,
)

Split = tuple[IntArray, IntArray]

CONFIDENCE = 0.95
"""Level of the bootstrap CIs of every AUC."""

F_UNSCORED = 0.5
"""Agent probability the KL detector gives a unit it cannot score (sigmoid(0): no evidence)."""

PURCHASE_FEATURES = ("purchases", "conversion")
"""Features that count purchases: the networks never see them. On whole sessions the purchase
outcome can still be recovered from the other counts (events minus the other kinds), so the
purchase head is an easy auxiliary task there; :func:`checkout_cohort` gives it a real one."""

BOUGHT = "bought"
"""Column of a cohort's features: 1 if the unit bought (a purchase or checkout), the purchase head's target."""

NET_COLUMNS = tuple(c for c in FEATURES if c not in PURCHASE_FEATURES)
"""Default inputs of :class:`NetModel`."""


def columns_problem(owner: str, columns: Sequence[str]) -> str | None:
    """The problem line when ``columns`` is empty or names a column outside ``features.FEATURES``."""
    unknown = [c for c in columns if c not in FEATURES]
    return relation(owner, "columns", tuple(columns), bool(columns) and not unknown,
                    f"a non-empty list of features.FEATURES (unknown: {unknown})")


class FeatureColumns(Constraint):
    """A non-empty list of :data:`features.FEATURES` (the configs' ``columns``), via :func:`columns_problem`."""

    def problem(self, owner: str, name: str, value: Any) -> str | None:
        return columns_problem(owner, value)

    def bad_value(self) -> Any:
        return ("no_such_feature",)


# --------------------------------------------------------------------------------------------
# The cohort


@dataclass(frozen=True)
class Cohort:
    """A trajectory table and the features of its units.

    Attributes:
        table: trajectory table whose ``trajectory`` column is the unit (as
            :func:`phantom_lib.data.trajectories` builds it with ``unit=unit``).
        features: :func:`phantom_lib.detection.features.session_features` of the table, one row per unit,
            plus :data:`BOUGHT` (the purchase head's target).
        unit: ``"session"`` or ``"experiment"``.
    """

    table: pd.DataFrame = field(repr=False)
    features: pd.DataFrame = field(repr=False)
    unit: str

    @property
    def ids(self) -> pd.Index:
        """Unit ids, in the order of every score."""
        return self.features.index

    @property
    def y(self) -> IntArray:
        """0/1 class of each unit (1 = agent), shape (n,)."""
        return self.features["is_agent"].to_numpy(dtype=np.int64)

    @property
    def groups(self) -> IntArray:
        """Leakage group of each unit, shape (n,)."""
        return self.features["group"].to_numpy(dtype=np.int64)


def make_cohort(table: pd.DataFrame, prices: pd.DataFrame | None = None, unit: str = "experiment") -> Cohort:
    """Features of every unit of ``table`` (trajectories = units), ready for the detectors."""
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {UNITS}; got {unit!r}")
    for column in ("trajectory", unit):
        if column not in table.columns:
            raise KeyError(f"the trajectory table lacks column {column!r}; build it with data.trajectories(frame, "
                           f"unit={unit!r})")
    if not (table["trajectory"].astype(str) == table[unit].astype(str)).all():
        raise ValueError(
            f"the table's trajectories are not its {unit}s: build it with data.trajectories(frame, unit={unit!r})"
        )
    frame = session_features(table, prices, unit)
    return Cohort(table, frame.assign(**{BOUGHT: (frame["purchases"] > 0).astype(int)}), unit)


def checkout_cohort(table: pd.DataFrame, prices: pd.DataFrame | None = None, unit: str = "experiment") -> Cohort:
    """The cohort as the platform sees it when a checkout price is quoted.

    Features are computed on each unit's events before its first purchase or checkout
    (:func:`phantom_lib.detection.features.before_purchase`) and on the price quotes shown before that
    moment; :data:`BOUGHT` is whether the whole unit bought. Units whose first event is a
    purchase have nothing before it and are left out.
    """
    buyers = set(table.loc[table["event"].astype(str).isin(PURCHASE), unit].astype(str))
    prefix = before_purchase(table, unit)
    if prices is not None:
        first = table.assign(_ns=epoch_ns(table["ts"]))
        first = first[first["event"].astype(str).isin(PURCHASE)].groupby(unit)["_ns"].min()
        cutoff = prices[unit].astype(str).map(first).fillna(np.iinfo(np.int64).max).to_numpy()
        prices = prices[epoch_ns(prices["ts"]) < cutoff]
    cohort = make_cohort(prefix, prices, unit)
    bought = cohort.ids.isin(list(buyers)).astype(int)
    return Cohort(cohort.table, cohort.features.assign(**{BOUGHT: bought}), unit)


class Detector(ABC):
    """One detector: ``score(cohort)`` gives P(agent) per unit, out of sample."""

    name: str

    @abstractmethod
    def score(self, cohort: Cohort) -> pd.Series:
        """Agent probability of every unit in [0, 1], index = ``cohort.ids``, name = :attr:`name`."""


# --------------------------------------------------------------------------------------------
# (a) the original rule, (b) the KL gap


@dataclass(frozen=True)
class RuleConfig(Validated):
    """The original rule: agent when all three hold.

    Attributes:
        min_interactions: at least this many interaction events.
        min_velocity: at least this many events per second over the unit (events_per_minute / 60).
        max_conversion: at most this share of events that are purchases or checkouts.
    """

    min_interactions: int = 12
    min_velocity: float = 0.2
    max_conversion: float = 0.01

    _parameter_constraints = {
        "min_interactions": (Integer(low=1),),
        "min_velocity": (Real(low=0, low_open=True),),
        "max_conversion": (Real(low=0, high=1),),
    }


class RuleDetector(Detector):
    """(a) The original rule as a 0/1 score."""

    name = "rule"

    def __init__(self, config: RuleConfig | None = None) -> None:
        self.config = config or RuleConfig()

    def flags(self, features: pd.DataFrame) -> npt.NDArray[np.bool_]:
        """True where the rule calls the unit an agent, shape (n,)."""
        c = self.config
        return (
            (features["n_events"].to_numpy() >= c.min_interactions)
            & (features["events_per_minute"].to_numpy() / 60.0 >= c.min_velocity)
            & (features["conversion"].to_numpy() <= c.max_conversion)
        )

    def score(self, cohort: Cohort) -> pd.Series:
        return pd.Series(self.flags(cohort.features).astype(float), index=cohort.ids, name=self.name)


class KLDetector(Detector):
    """(b) f = sigmoid(gap / T) of :func:`phantom_lib.behaviour.distinguish.score_table` (leave-one-out by default)."""

    name = "kl"

    def __init__(self, config: ScoreConfig | None = None) -> None:
        self.config = config or ScoreConfig()

    def score(self, cohort: Cohort) -> pd.Series:
        scores = score_table(cohort.table, self.config).frame.set_index("trajectory")["f"]
        return scores.reindex(cohort.ids).fillna(F_UNSCORED).rename(self.name)


# --------------------------------------------------------------------------------------------
# Grouped cross-validation


@dataclass(frozen=True)
class CVConfig(Validated):
    """Grouped K-fold cross-validation (scikit-learn's StratifiedGroupKFold, shuffled).

    Attributes:
        n_splits: folds (>= 2; at most the number of leakage groups).
        seed: seed of the fold assignment.
    """

    n_splits: int = 5
    seed: int = 0

    _parameter_constraints = {
        "n_splits": (Integer(low=2),),
        "seed": (Integer(low=0),),
    }


def grouped_splits(y: npt.ArrayLike, groups: npt.ArrayLike, config: CVConfig | None = None) -> list[Split]:
    """Train/test index pairs in which no group is on both sides, classes stratified.

    Args:
        y: 0/1 class per unit, shape (n,).
        groups: leakage group per unit, shape (n,) (:func:`phantom_lib.detection.features.leakage_groups`).

    Returns:
        ``config.n_splits`` pairs ``(train, test)`` of index arrays; the tests partition range(n).
    """
    from sklearn.model_selection import StratifiedGroupKFold

    config = config or CVConfig()
    y = np.asarray(y)
    groups = np.asarray(groups)
    if y.shape != groups.shape or y.ndim != 1:
        raise ValueError(f"y and groups must be 1-D of one length; got shapes {y.shape} and {groups.shape}")
    if set(np.unique(y).tolist()) != {0, 1}:
        raise ValueError("grouped cross-validation needs both classes (0 and 1) in y")
    n_groups = np.unique(groups).size
    if n_groups < config.n_splits:
        raise ValueError(
            f"CVConfig.n_splits = {config.n_splits} exceeds the {n_groups} leakage groups; use fewer folds"
        )
    folds = StratifiedGroupKFold(n_splits=config.n_splits, shuffle=True, random_state=config.seed)
    return [(train.astype(np.int64), test.astype(np.int64)) for train, test in folds.split(np.zeros(y.size), y, groups)]


class FeatureModel(Protocol):
    """A learner over the feature frame (rows = units; label ``is_agent``, group ``group``)."""

    def fit(self, frame: pd.DataFrame) -> FeatureModel:
        """Fit on the rows of ``frame``; returns self."""
        ...

    def predict(self, frame: pd.DataFrame) -> FloatArray:
        """P(agent) of every row of ``frame``, shape (n,)."""
        ...


@dataclass(frozen=True)
class CrossValidated:
    """Out-of-fold predictions of one learner.

    Attributes:
        scores: P(agent) of every unit from the model that did not see it (index = unit ids).
        models: the fitted model of each fold.
        splits: the folds, ``(train, test)`` index pairs.
    """

    scores: pd.Series
    models: list[FeatureModel]
    splits: list[Split]

    def predict_out_of_fold(
        self, frame: pd.DataFrame, predict: Callable[[FeatureModel, pd.DataFrame], FloatArray]
    ) -> FloatArray:
        """``predict(model_k, frame.iloc[test_k])`` assembled over the folds, shape (n,)."""
        return _out_of_fold(self.models, self.splits, frame, predict)


def _out_of_fold(
    models: Sequence[FeatureModel],
    splits: Sequence[Split],
    frame: pd.DataFrame,
    predict: Callable[[FeatureModel, pd.DataFrame], FloatArray],
) -> FloatArray:
    out = np.full(len(frame), np.nan)
    for model, (_, test) in zip(models, splits):
        out[test] = predict(model, frame.iloc[test])
    return out


def cross_validate(
    cohort: Cohort, make_model: Callable[[], FeatureModel], cv: CVConfig | None = None, name: str = "model"
) -> CrossValidated:
    """Fit ``make_model()`` on each grouped training fold and predict its test fold."""
    splits = grouped_splits(cohort.y, cohort.groups, cv)
    frame = cohort.features
    models = [make_model().fit(frame.iloc[train]) for train, _ in splits]
    scores = _out_of_fold(models, splits, frame, lambda model, part: model.predict(part))
    return CrossValidated(pd.Series(scores, index=cohort.ids, name=name), models, splits)


class LearnedDetector(Detector):
    """(c), (d): a :class:`FeatureModel` scored out of fold over grouped splits."""

    def __init__(self, name: str, make_model: Callable[[], FeatureModel], cv: CVConfig | None = None) -> None:
        self.name = name
        self.make_model = make_model
        self.cv = cv or CVConfig()

    def cross_validate(self, cohort: Cohort) -> CrossValidated:
        """The out-of-fold scores with the fitted fold models (for importance and extra heads)."""
        return cross_validate(cohort, self.make_model, self.cv, self.name)

    def score(self, cohort: Cohort) -> pd.Series:
        return self.cross_validate(cohort).scores
