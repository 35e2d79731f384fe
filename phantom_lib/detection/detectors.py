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

:func:`distil` fits a depth-limited decision tree to a teacher's out-of-fold verdicts and reports
its agreement with the teacher on held-out units; :func:`evaluate` tabulates AUC with bootstrap
CIs, precision at a recall and calibration, reusing :mod:`phantom_lib.behaviour.separation`;
:func:`permutation_importance` measures what each feature is worth to a learned detector.
"""

from __future__ import annotations

import dataclasses
import functools
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd
from threadpoolctl import threadpool_limits

from phantom_lib._validation import check, choice, integer, real, relation
from phantom_lib.behaviour import separation as cohort_stats
from phantom_lib.behaviour.distinguish import ScoreConfig, score_table
from phantom_lib.detection.features import (
    FEATURES,
    PURCHASE,
    UNITS,
    before_purchase,
    design_matrix,
    epoch_ns,
    session_features,
)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
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


def _columns(owner: str, columns: Sequence[str]) -> str | None:
    """The problem line when ``columns`` is empty or names a column outside ``features.FEATURES``."""
    unknown = [c for c in columns if c not in FEATURES]
    return relation(owner, "columns", tuple(columns), bool(columns) and not unknown,
                    f"a non-empty list of features.FEATURES (unknown: {unknown})")


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
            raise KeyError(f"the trajectory table lacks column {column!r}; build it with data.trajectories(frame, unit={unit!r})")
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
class RuleConfig:
    """The original rule: agent when all three hold.

    Attributes:
        min_interactions: at least this many interaction events.
        min_velocity: at least this many events per second over the unit (events_per_minute / 60).
        max_conversion: at most this share of events that are purchases or checkouts.
    """

    min_interactions: int = 12
    min_velocity: float = 0.2
    max_conversion: float = 0.01

    def __post_init__(self) -> None:
        owner = "RuleConfig"
        check(
            owner,
            integer(owner, "min_interactions", self.min_interactions, low=1),
            real(owner, "min_velocity", self.min_velocity, low=0, low_open=True),
            real(owner, "max_conversion", self.max_conversion, low=0, high=1),
        )


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
class CVConfig:
    """Grouped K-fold cross-validation (scikit-learn's StratifiedGroupKFold, shuffled).

    Attributes:
        n_splits: folds (>= 2; at most the number of leakage groups).
        seed: seed of the fold assignment.
    """

    n_splits: int = 5
    seed: int = 0

    def __post_init__(self) -> None:
        owner = "CVConfig"
        check(owner, integer(owner, "n_splits", self.n_splits, low=2), integer(owner, "seed", self.seed, low=0))


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
        raise ValueError(f"CVConfig.n_splits = {config.n_splits} exceeds the {n_groups} leakage groups; use fewer folds")
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

    def predict_out_of_fold(self, frame: pd.DataFrame, predict: Callable[[FeatureModel, pd.DataFrame], FloatArray]) -> FloatArray:
        """``predict(model_k, frame.iloc[test_k])`` assembled over the folds, shape (n,)."""
        return _out_of_fold(self.models, self.splits, frame, predict)


def _out_of_fold(
    models: Sequence[FeatureModel], splits: Sequence[Split], frame: pd.DataFrame,
    predict: Callable[[FeatureModel, pd.DataFrame], FloatArray],
) -> FloatArray:
    out = np.full(len(frame), np.nan)
    for model, (_, test) in zip(models, splits):
        out[test] = predict(model, frame.iloc[test])
    return out


def cross_validate(cohort: Cohort, make_model: Callable[[], FeatureModel], cv: CVConfig | None = None, name: str = "model") -> CrossValidated:
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


# --------------------------------------------------------------------------------------------
# (c) gradient boosting


@dataclass(frozen=True)
class BoostConfig:
    """HistGradientBoostingClassifier with calibrated probabilities.

    Attributes:
        columns: input features (``browser`` is one-hot encoded; NaN handled natively).
        max_iter, learning_rate, max_depth, min_samples_leaf: the booster's settings
            (``min_samples_leaf`` must suit small cohorts: scikit-learn's default 20 never splits 29 units).
        calibration: ``"sigmoid"`` (Platt) or ``"isotonic"``, fitted on inner grouped folds.
        inner_splits: inner folds of the calibration (each fits a booster on the rest).
        seed: seed of the booster and of the inner folds.
    """

    columns: tuple[str, ...] = FEATURES
    max_iter: int = 100
    learning_rate: float = 0.1
    max_depth: int = 3
    min_samples_leaf: int = 3
    calibration: str = "sigmoid"
    inner_splits: int = 3
    seed: int = 0

    def __post_init__(self) -> None:
        owner = "BoostConfig"
        check(
            owner,
            _columns(owner, self.columns),
            *(integer(owner, name, getattr(self, name), low=low)
              for name, low in (("max_iter", 1), ("max_depth", 1), ("min_samples_leaf", 1), ("inner_splits", 2), ("seed", 0))),
            real(owner, "learning_rate", self.learning_rate, low=0, low_open=True),
            choice(owner, "calibration", self.calibration, ("sigmoid", "isotonic")),
        )


class BoostedModel:
    """(c) A calibrated gradient-boosted classifier over the features (a :class:`FeatureModel`)."""

    def __init__(self, config: BoostConfig | None = None) -> None:
        self.config = config or BoostConfig()
        self.model = None
        self.usable: npt.NDArray[np.bool_] | None = None

    def fit(self, frame: pd.DataFrame) -> BoostedModel:
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.ensemble import HistGradientBoostingClassifier

        c = self.config
        x, _ = design_matrix(frame, c.columns)
        self.usable = ~np.isnan(x).all(axis=0)  # a column with no value in training (no quotes) carries nothing
        x = x[:, self.usable]
        y = frame["is_agent"].to_numpy(dtype=np.int64)
        inner = grouped_splits(y, frame["group"].to_numpy(), CVConfig(c.inner_splits, c.seed))
        booster = HistGradientBoostingClassifier(
            max_iter=c.max_iter, learning_rate=c.learning_rate, max_depth=c.max_depth,
            min_samples_leaf=c.min_samples_leaf, early_stopping=False, random_state=c.seed,
        )
        with threadpool_limits(limits=1):  # OpenMP threads cost more than they save at this size
            self.model = CalibratedClassifierCV(booster, method=c.calibration, cv=inner).fit(x, y)
        return self

    def predict(self, frame: pd.DataFrame) -> FloatArray:
        if self.model is None:
            raise RuntimeError("BoostedModel.predict called before fit")
        x, _ = design_matrix(frame, self.config.columns)
        with threadpool_limits(limits=1):
            return self.model.predict_proba(x[:, self.usable])[:, 1]


# --------------------------------------------------------------------------------------------
# (d) multi-task network


@dataclass(frozen=True)
class NetConfig:
    """A small torch MLP: shared encoder (two ReLU layers), an agent head and, if ``multitask``,
    a purchase head; trained full-batch with Adam on the summed binary cross-entropies
    (agent + ``purchase_weight`` * purchase), one CPU thread, seeded.

    Attributes:
        columns: inputs (default :data:`NET_COLUMNS`: never the purchase features), standardised
            with the training fold's mean and std; NaN becomes 0 (the mean) after standardising.
        hidden: encoder width.
        epochs, lr, weight_decay: optimiser settings.
        multitask: train the purchase head too (target: the :data:`BOUGHT` column).
        purchase_weight: weight of the purchase loss.
        seed: torch seed (forked, so the global torch generator is left as it was).
    """

    columns: tuple[str, ...] = NET_COLUMNS
    hidden: int = 16
    epochs: int = 300
    lr: float = 0.01
    weight_decay: float = 1e-3
    multitask: bool = True
    purchase_weight: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        owner = "NetConfig"
        leaked = [c for c in self.columns if c in PURCHASE_FEATURES]
        check(
            owner,
            _columns(owner, self.columns),
            relation(owner, "columns", tuple(self.columns), not (self.multitask and leaked),
                     f"no purchase feature (the purchase head predicts them): remove {leaked}"),
            *(integer(owner, name, getattr(self, name), low=low) for name, low in (("hidden", 1), ("epochs", 1), ("seed", 0))),
            real(owner, "lr", self.lr, low=0, low_open=True),
            real(owner, "purchase_weight", self.purchase_weight, low=0, low_open=True),
            real(owner, "weight_decay", self.weight_decay, low=0),
        )


class NetModel:
    """(d) The network of :class:`NetConfig` (a :class:`FeatureModel`)."""

    def __init__(self, config: NetConfig | None = None) -> None:
        self.config = config or NetConfig()
        self.net = None
        self.mean: FloatArray | None = None
        self.std: FloatArray | None = None

    def _inputs(self, frame: pd.DataFrame) -> Any:
        """Standardised inputs as a float32 torch tensor (n, d)."""
        import torch

        x, _ = design_matrix(frame, self.config.columns)
        z = np.nan_to_num((x - self.mean) / self.std, nan=0.0)
        return torch.as_tensor(z, dtype=torch.float32)

    def fit(self, frame: pd.DataFrame) -> NetModel:
        import torch
        from torch import nn

        c = self.config
        x, _ = design_matrix(frame, c.columns)
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns (e.g. no price quotes)
            self.mean = np.nan_to_num(np.nanmean(x, axis=0), nan=0.0)
            std = np.nan_to_num(np.nanstd(x, axis=0), nan=0.0)
        self.std = np.where(std > 0, std, 1.0)
        inputs = self._inputs(frame)
        agent = torch.as_tensor(frame["is_agent"].to_numpy(dtype=float), dtype=torch.float32)
        purchase = torch.as_tensor(frame[BOUGHT].to_numpy(dtype=float), dtype=torch.float32)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(c.seed)
                encoder = nn.Sequential(nn.Linear(inputs.shape[1], c.hidden), nn.ReLU(), nn.Linear(c.hidden, c.hidden), nn.ReLU())
                heads = nn.Linear(c.hidden, 2 if c.multitask else 1)
                net = nn.Sequential(encoder, heads)
                optimiser = torch.optim.Adam(net.parameters(), lr=c.lr, weight_decay=c.weight_decay)
                loss_fn = nn.BCEWithLogitsLoss()
                for _ in range(c.epochs):
                    optimiser.zero_grad()
                    logits = net(inputs)
                    loss = loss_fn(logits[:, 0], agent)
                    if c.multitask:
                        loss = loss + c.purchase_weight * loss_fn(logits[:, 1], purchase)
                    loss.backward()
                    optimiser.step()
        finally:
            torch.set_num_threads(threads)
        self.net = net.eval()
        return self

    def _probabilities(self, frame: pd.DataFrame) -> FloatArray:
        import torch

        if self.net is None:
            raise RuntimeError("NetModel.predict called before fit")
        with torch.no_grad():
            return torch.sigmoid(self.net(self._inputs(frame))).numpy().astype(float)

    def predict(self, frame: pd.DataFrame) -> FloatArray:
        return self._probabilities(frame)[:, 0]

    def predict_purchase(self, frame: pd.DataFrame) -> FloatArray:
        """P(at least one purchase) from the purchase head (multi-task only), shape (n,)."""
        if not self.config.multitask:
            raise ValueError("the single-task network has no purchase head (NetConfig.multitask=False)")
        return self._probabilities(frame)[:, 1]


# --------------------------------------------------------------------------------------------
# (e) distillation into a readable tree


@dataclass(frozen=True)
class DistilConfig:
    """A depth-limited decision tree fitted to a teacher's verdicts.

    Attributes:
        columns: the tree's features (raw values, so the printed thresholds are in their units).
        max_depth, min_samples_leaf: the tree's size limits.
        threshold: the teacher says "agent" when its probability is at least this.
        seed: seed of the tree (ties between equal splits).
    """

    columns: tuple[str, ...] = FEATURES
    max_depth: int = 3
    min_samples_leaf: int = 2
    threshold: float = 0.5
    seed: int = 0

    def __post_init__(self) -> None:
        owner = "DistilConfig"
        check(
            owner,
            _columns(owner, self.columns),
            integer(owner, "max_depth", self.max_depth, low=1),
            integer(owner, "min_samples_leaf", self.min_samples_leaf, low=1),
            integer(owner, "seed", self.seed, low=0),
            real(owner, "threshold", self.threshold, low=0, high=1, low_open=True, high_open=True),
        )


@dataclass(frozen=True)
class Distilled:
    """A tree distilled from a teacher.

    Attributes:
        teacher: the teacher's name.
        rules: the tree fitted on every unit, as indented if/else rules (scikit-learn's export_text).
        agreement: share of units on which the tree, fitted without them (grouped folds), gives
            the teacher's verdict; in [0, 1].
        teacher_agent: the teacher's 0/1 verdict per unit.
        scores: out-of-fold P(agent) of the tree (the share of teacher "agent" verdicts in the
            unit's leaf), index = unit ids.
        depth, leaves: size of the tree fitted on every unit.
    """

    teacher: str
    rules: str
    agreement: float
    teacher_agent: pd.Series
    scores: pd.Series
    depth: int
    leaves: int


def _tree(config: DistilConfig) -> Any:
    """An unfitted scikit-learn DecisionTreeClassifier of ``config``."""
    from sklearn.tree import DecisionTreeClassifier

    return DecisionTreeClassifier(max_depth=config.max_depth, min_samples_leaf=config.min_samples_leaf, random_state=config.seed)


def _agent_share(tree: Any, x: FloatArray) -> FloatArray:
    """P(teacher says agent) of each row from a fitted tree (0 if it never saw an agent verdict)."""
    proba = tree.predict_proba(x)
    classes = list(tree.classes_)
    return proba[:, classes.index(1)] if 1 in classes else np.zeros(len(x))


def distil(cohort: Cohort, teacher: pd.Series, config: DistilConfig | None = None, cv: CVConfig | None = None) -> Distilled:
    """Distil ``teacher`` (P(agent) per unit, out of fold) into a readable tree.

    The tree learns the teacher's verdicts (probability >= threshold), not the true labels. Its
    agreement is measured on held-out units: on each grouped fold a tree fitted on the other
    folds' verdicts predicts the held-out verdicts.
    """
    from sklearn.tree import export_text

    config = config or DistilConfig()
    teacher = teacher.reindex(cohort.ids)
    if teacher.isna().any():
        raise ValueError(f"the teacher has no score for {int(teacher.isna().sum())} units; score every unit of the cohort")
    verdict = (teacher.to_numpy() >= config.threshold).astype(np.int64)
    x, names = design_matrix(cohort.features, config.columns)
    scores = np.full(len(x), np.nan)
    predicted = np.zeros(len(x), dtype=np.int64)
    for train, test in grouped_splits(cohort.y, cohort.groups, cv):
        tree = _tree(config).fit(x[train], verdict[train])
        scores[test] = _agent_share(tree, x[test])
        predicted[test] = tree.predict(x[test])
    tree = _tree(config).fit(x, verdict)
    return Distilled(
        teacher=str(teacher.name),
        rules=export_text(tree, feature_names=names, show_weights=True, decimals=2),
        agreement=float(np.mean(predicted == verdict)),
        teacher_agent=pd.Series(verdict, index=cohort.ids, name="teacher_agent"),
        scores=pd.Series(scores, index=cohort.ids, name=f"tree({teacher.name})"),
        depth=int(tree.get_depth()),
        leaves=int(tree.get_n_leaves()),
    )


# --------------------------------------------------------------------------------------------
# Evaluation


def precision_at_recall(scores: npt.ArrayLike, is_agent: npt.ArrayLike, recall: float = 0.8) -> float:
    """Best precision among the thresholds that flag at least ``recall`` of the agents.

    From the ROC points of :func:`phantom_lib.behaviour.separation.roc_curve` (flag when score >= threshold):
    precision = TP / (TP + FP) = tpr n_A / (tpr n_A + fpr n_H).
    """
    if not 0 < recall <= 1:
        raise ValueError(f"recall must lie in (0, 1]; got {recall!r}")
    y = np.asarray(is_agent).astype(bool)
    roc = cohort_stats.roc_curve(scores, y)
    reach = roc[roc["tpr"] >= recall - 1e-12]
    tp = reach["tpr"].to_numpy() * y.sum()
    fp = reach["fpr"].to_numpy() * (~y).sum()
    return float(np.max(tp / (tp + fp)))


def evaluate_detectors(
    scores: Mapping[str, pd.Series],
    is_agent: pd.Series,
    n_boot: int = 2000,
    seed: int = 0,
    recall: float = 0.8,
    confidence: float = CONFIDENCE,
) -> pd.DataFrame:
    """One row per detector: AUC with its percentile bootstrap CI (:func:`cohort.auc_bootstrap`;
    every detector gets the same resamples, from one seed), precision at ``recall``, Brier score
    and log loss (:func:`cohort.calibration_losses`), and the share of units flagged at 0.5.

    Args:
        scores: detector name -> P(agent) per unit (index = unit ids).
        is_agent: 0/1 class per unit (index = unit ids).
    """
    rows = {}
    for name, score in scores.items():
        s = score.reindex(is_agent.index)
        if s.isna().any():
            raise ValueError(f"detector {name!r} has no score for {int(s.isna().sum())} units")
        p, y = s.to_numpy(dtype=float), is_agent.to_numpy()
        rng = cohort_stats.CohortConfig(seed=seed).generator("auc")
        area, low, high = cohort_stats.auc_bootstrap(p, y, n_boot, rng, confidence)
        rows[name] = {
            "auc": area,
            "auc_low": low,
            "auc_high": high,
            f"precision_at_{recall:.0%}_recall": precision_at_recall(p, y, recall),
            **cohort_stats.calibration_losses(p, y),
            "flagged_share": float(np.mean(p >= 0.5)),
        }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("detector")


def permutation_importance(
    cohort: Cohort, result: CrossValidated, columns: Sequence[str], n_repeats: int = 5, seed: int = 0
) -> pd.DataFrame:
    """Drop in out-of-fold AUC when one feature is shuffled among the held-out units of each fold.

    The fold models of ``result`` are reused (no refit); ``browser`` is shuffled as one column.

    Returns:
        one row per feature: ``importance`` (mean AUC drop over ``n_repeats`` shuffles) and
        ``std``, sorted by importance, largest first.
    """
    check("permutation_importance", integer("permutation_importance", "n_repeats", n_repeats, low=1))
    rng = np.random.default_rng(seed)
    frame = cohort.features
    base = cohort_stats.auc(result.scores.to_numpy(), cohort.y)
    rows = []
    for column in columns:
        drops = []
        for _ in range(n_repeats):
            def shuffled(model: FeatureModel, part: pd.DataFrame) -> FloatArray:
                values = part[column].to_numpy(copy=True)
                return model.predict(part.assign(**{column: values[rng.permutation(values.size)]}))

            drops.append(base - cohort_stats.auc(result.predict_out_of_fold(frame, shuffled), cohort.y))
        rows.append({"feature": column, "importance": float(np.mean(drops)), "std": float(np.std(drops))})
    return pd.DataFrame(rows).sort_values("importance", ascending=False, kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# The suite the detection chapter compares

RULE_FEATURES = ("n_events", "events_per_minute", "conversion")
"""Features the original rule reads."""


def detector_suite(
    columns: Sequence[str] = FEATURES,
    cv: CVConfig | None = None,
    boost: BoostConfig | None = None,
    net: NetConfig | None = None,
) -> dict[str, Detector]:
    """The detectors (a)-(d) over one feature set.

    The learners read ``columns`` (the networks without :data:`PURCHASE_FEATURES`); the rule is
    included only when ``columns`` hold :data:`RULE_FEATURES`; the KL detector reads the event
    sequences. Keys: ``rule``, ``kl``, ``boosted``, ``net_multitask``, ``net_single``.
    """
    columns = tuple(columns)
    boost = dataclasses.replace(boost or BoostConfig(), columns=columns)
    net = dataclasses.replace(net or NetConfig(), columns=tuple(c for c in columns if c not in PURCHASE_FEATURES))
    suite: dict[str, Detector] = {}
    if all(c in columns for c in RULE_FEATURES):
        suite["rule"] = RuleDetector()
    suite["kl"] = KLDetector()
    suite["boosted"] = LearnedDetector("boosted", functools.partial(BoostedModel, boost), cv)
    for name, multitask in (("net_multitask", True), ("net_single", False)):
        suite[name] = LearnedDetector(name, functools.partial(NetModel, dataclasses.replace(net, multitask=multitask)), cv)
    return suite


@dataclass(frozen=True)
class Comparison:
    """Every detector of a suite on one cohort, plus the tree distilled from the teacher.

    Attributes:
        scores: detector name -> out-of-sample P(agent) per unit (``tree`` included).
        evaluation: :func:`evaluate` of every score, one row per detector.
        fitted: the cross-validation results of the learned detectors (fold models, splits).
        tree: :func:`distil` of the teacher.
    """

    scores: dict[str, pd.Series]
    evaluation: pd.DataFrame
    fitted: dict[str, CrossValidated]
    tree: Distilled


def compare_detectors(
    cohort: Cohort,
    suite: Mapping[str, Detector],
    n_boot: int = 2000,
    seed: int = 0,
    teacher: str = "best",
    distil_config: DistilConfig | None = None,
    cv: CVConfig | None = None,
) -> Comparison:
    """Score ``cohort`` with every detector of ``suite``, evaluate, and distil the teacher
    (``"best"``: the highest AUC) into a tree over ``distil_config.columns``."""
    scores: dict[str, pd.Series] = {}
    fitted: dict[str, CrossValidated] = {}
    for name, detector in suite.items():
        if isinstance(detector, LearnedDetector):
            fitted[name] = detector.cross_validate(cohort)
            scores[name] = fitted[name].scores
        else:
            scores[name] = detector.score(cohort)
    labels = cohort.features["is_agent"]
    evaluation = evaluate_detectors(scores, labels, n_boot, seed)
    chosen = str(evaluation["auc"].idxmax()) if teacher == "best" else teacher
    if chosen not in scores:
        raise KeyError(f"teacher {chosen!r} is not in the suite; choose 'best' or one of {list(scores)}")
    tree = distil(cohort, scores[chosen], distil_config, cv)
    scores["tree"] = tree.scores.rename("tree")
    evaluation = pd.concat([evaluation, evaluate_detectors({"tree": scores["tree"]}, labels, n_boot, seed)])
    return Comparison(scores, evaluation, fitted, tree)


def multitask_comparison(
    cohort: Cohort, net: NetConfig | None = None, cv: CVConfig | None = None, n_boot: int = 2000, seed: int = 0
) -> pd.DataFrame:
    """The multi-task network against its single-task twin on one cohort (same inputs, folds, seed).

    Returns one row per network: out-of-fold agent AUC with its bootstrap CI, and for the
    multi-task network the purchase head's AUC for :data:`BOUGHT` with its CI (NaN when the
    cohort has one purchase outcome only).
    """
    net = net or NetConfig()
    rows = {}
    for name, multitask in (("single-task", False), ("multi-task", True)):
        result = cross_validate(cohort, functools.partial(NetModel, dataclasses.replace(net, multitask=multitask)), cv, name)
        agent = evaluate_detectors({name: result.scores}, cohort.features["is_agent"], n_boot, seed).loc[name]
        row = {"agent AUC": agent["auc"], "agent low": agent["auc_low"], "agent high": agent["auc_high"]}
        bought = cohort.features[BOUGHT].to_numpy(dtype=int)
        row.update({"purchase AUC": np.nan, "purchase low": np.nan, "purchase high": np.nan})
        if multitask and 0 < bought.sum() < bought.size:
            purchase = result.predict_out_of_fold(cohort.features, lambda model, part: model.predict_purchase(part))
            rng = cohort_stats.CohortConfig(seed=seed).generator("auc")
            area, low, high = cohort_stats.auc_bootstrap(purchase, bought, n_boot, rng, CONFIDENCE)
            row.update({"purchase AUC": area, "purchase low": low, "purchase high": high})
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("network")
