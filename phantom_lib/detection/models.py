"""Learned feature models behind the detectors: calibrated boosting, small torch networks, distilled trees.

Each model follows :class:`~phantom_lib.detection.detectors.FeatureModel` (``fit(x, y, groups)``,
``predict_proba(x)``) so :class:`~phantom_lib.detection.detectors.LearnedDetector` scores it out of
fold: :class:`BoostedModel` (scikit-learn's HistGradientBoostingClassifier, probabilities calibrated
by a sigmoid fitted on inner grouped folds) and :class:`NetModel` (a shared encoder with an agent head
and, in the multi-task variant, a purchase head). :func:`distil` fits a depth-limited decision tree to
a teacher's out-of-fold verdicts and reports its agreement with the teacher on held-out units.
"""


from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from threadpoolctl import threadpool_limits

from phantom_lib._arrays import FloatArray
from phantom_lib._validation import (
    Boolean,
    Choice,
    Integer,
    Real,
    Rule,
    Validated,
)
from phantom_lib.detection.detectors import (
    BOUGHT,
    NET_COLUMNS,
    PURCHASE_FEATURES,
    Cohort,
    CVConfig,
    FeatureColumns,
    grouped_splits,
)
from phantom_lib.detection.features import (
    FEATURES,
    design_matrix,
)

# --------------------------------------------------------------------------------------------
# (c) gradient boosting


@dataclass(frozen=True)
class BoostConfig(Validated):
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

    _parameter_constraints = {
        "columns": (FeatureColumns(),),
        "max_iter": (Integer(low=1),),
        "max_depth": (Integer(low=1),),
        "min_samples_leaf": (Integer(low=1),),
        "inner_splits": (Integer(low=2),),
        "seed": (Integer(low=0),),
        "learning_rate": (Real(low=0, low_open=True),),
        "calibration": (Choice(("sigmoid", "isotonic")),),
    }


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
class NetConfig(Validated):
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

    _parameter_constraints = {
        "columns": (
            FeatureColumns(),
            Rule(
                lambda c: not (c.multitask and set(c.columns) & set(PURCHASE_FEATURES)),
                lambda c: (
                    "no purchase feature (the purchase head predicts them): remove "
                    f"{[x for x in c.columns if x in PURCHASE_FEATURES]}"
                ),
            ),
        ),
        "hidden": (Integer(low=1),),
        "epochs": (Integer(low=1),),
        "lr": (Real(low=0, low_open=True),),
        "weight_decay": (Real(low=0),),
        "multitask": (Boolean(),),
        "purchase_weight": (Real(low=0, low_open=True),),
        "seed": (Integer(low=0),),
    }


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
                encoder = nn.Sequential(
                    nn.Linear(inputs.shape[1], c.hidden), nn.ReLU(), nn.Linear(c.hidden, c.hidden), nn.ReLU()
                )
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
class DistilConfig(Validated):
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

    _parameter_constraints = {
        "columns": (FeatureColumns(),),
        "max_depth": (Integer(low=1),),
        "min_samples_leaf": (Integer(low=1),),
        "threshold": (Real(low=0, high=1, low_open=True, high_open=True),),
        "seed": (Integer(low=0),),
    }


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

    return DecisionTreeClassifier(
        max_depth=config.max_depth, min_samples_leaf=config.min_samples_leaf, random_state=config.seed
    )


def _agent_share(tree: Any, x: FloatArray) -> FloatArray:
    """P(teacher says agent) of each row from a fitted tree (0 if it never saw an agent verdict)."""
    proba = tree.predict_proba(x)
    classes = list(tree.classes_)
    return proba[:, classes.index(1)] if 1 in classes else np.zeros(len(x))


def distil(
    cohort: Cohort, teacher: pd.Series, config: DistilConfig | None = None, cv: CVConfig | None = None
) -> Distilled:
    """Distil ``teacher`` (P(agent) per unit, out of fold) into a readable tree.

    The tree learns the teacher's verdicts (probability >= threshold), not the true labels. Its
    agreement is measured on held-out units: on each grouped fold a tree fitted on the other
    folds' verdicts predicts the held-out verdicts.
    """
    from sklearn.tree import export_text

    config = config or DistilConfig()
    teacher = teacher.reindex(cohort.ids)
    if teacher.isna().any():
        raise ValueError(
            f"the teacher has no score for {int(teacher.isna().sum())} units; score every unit of the cohort"
        )
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
