"""One configuration contract: every configuration class declares its fields' constraints as data
(``_parameter_constraints``, :mod:`phantom_lib._validation`) and rejects a bad value of any field with
one :class:`ConfigError` whose lines all name ``Owner.field``.

The classes are found, not listed: every dataclass of the package named ``*Config``/``*Options`` or
deriving from :class:`Validated`. Each field is fed the bad value of each of its own declared
constraints, so a new field without a declaration, or a declaration that lets its own bad value
through, fails here.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil

import pytest

import phantom_lib
from phantom_lib._validation import ConfigError, Rule, Validated


def _configuration_classes() -> list[type]:
    found = []
    for info in pkgutil.walk_packages(phantom_lib.__path__, "phantom_lib."):
        module = importlib.import_module(info.name)
        for name, cls in vars(module).items():
            if not (inspect.isclass(cls) and cls.__module__ == module.__name__ and dataclasses.is_dataclass(cls)):
                continue
            if issubclass(cls, Validated) or name.endswith(("Config", "Options")):
                found.append(cls)
    return sorted(found, key=lambda c: (c.__module__, c.__name__))


CLASSES = _configuration_classes()


def _examples() -> dict[str, object]:
    """A valid instance of each class whose fields do not all have defaults."""
    from phantom_lib.study.analysis.equivalence import Margin
    from phantom_lib.study.common import DigitisedFeatures
    from phantom_lib.study.design.designs import StudyDesign, TrialConfig
    from phantom_lib.study.jax.actor_critic import A2CConfig, PPOConfig
    from phantom_lib.study.jax.q import DQNConfig, QTableConfig
    from phantom_lib.study.jax.view import BudgetConfig

    return {
        "TrialConfig": TrialConfig("ppo"),
        "StudyDesign": StudyDesign({"algorithm": ("ppo",), "alpha0": (0.1, 0.3)}, (0, 1), {"timesteps": 64},
                                   baseline_twins=True, references=("static",)),
        "Margin": Margin(0.5, "revenue units", "half the smallest effect we would act on"),
        "DigitisedFeatures": DigitisedFeatures(3, 10.0, 150.0),
        "BudgetConfig": BudgetConfig(256, 9),
        "PPOConfig": PPOConfig(256, 9, n_steps=64, batch_size=16),
        "A2CConfig": A2CConfig(256, 9),
        "DQNConfig": DQNConfig(256, 9),
        "QTableConfig": QTableConfig(256, 9, 216, featurise=abs),
    }


EXAMPLES = _examples()


def example(cls: type) -> object:
    return EXAMPLES[cls.__name__] if cls.__name__ in EXAMPLES else cls()


def _cases() -> list[tuple[type, str, int]]:
    cases = []
    for cls in CLASSES:
        if not issubclass(cls, Validated):
            continue
        for name, constraints in cls.parameter_constraints().items():
            cases += [(cls, name, i) for i, c in enumerate(constraints) if not isinstance(c, Rule)]
    return cases


def test_the_finder_finds_the_configuration_classes_of_every_layer():
    names = {c.__name__ for c in CLASSES}
    assert {"MarketConfig", "EnvConfig", "TrialConfig", "SweepOptions", "PPOConfig", "A2CConfig", "DQNConfig",
            "QTableConfig", "BudgetConfig", "ScoreConfig", "DefenceConfig", "StandinConfig"} <= names
    assert len(CLASSES) >= 25


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_every_configuration_class_declares_a_constraint_for_each_field(cls):
    assert issubclass(cls, Validated), f"{cls.__name__} validates without declared constraints"
    fields = {f.name for f in dataclasses.fields(cls) if f.init}
    declared = cls.parameter_constraints()
    assert set(declared) == fields, f"undeclared: {fields - set(declared)}; unknown: {set(declared) - fields}"
    assert all(any(not isinstance(c, Rule) for c in cs) for cs in declared.values())  # each field has a bad value
    example(cls)  # the example (or the defaults) is valid


@pytest.mark.parametrize(("cls", "field", "index"), _cases(),
                         ids=lambda v: v.__name__ if isinstance(v, type) else str(v))
def test_a_bad_value_from_the_declaration_gives_one_error_naming_the_field(cls, field, index):
    bad = cls.parameter_constraints()[field][index].bad_value()
    with pytest.raises(ConfigError) as raised:
        dataclasses.replace(example(cls), **{field: bad})
    assert raised.value.owner == cls.__name__
    assert raised.value.problems and all(p.startswith(f"{cls.__name__}.{field} = ") for p in raised.value.problems)


def test_a_batch_size_that_does_not_divide_the_rollout_fails_at_construction():
    from phantom_lib.study.jax.actor_critic import PPOConfig

    with pytest.raises(ConfigError) as raised:
        PPOConfig(4096, 9, n_steps=64, batch_size=48)
    assert raised.value.problems == ["PPOConfig.batch_size = 48: expected a divisor of n_steps (64): each epoch cuts "
                                     "the rollout into n_steps / batch_size minibatches"]
    assert PPOConfig(4096, 9, n_steps=64, batch_size=16).batch_size == 16  # a divisor is fine


def test_cross_field_rules_run_only_once_every_field_passes_its_own():
    from phantom_lib.sim.config import EnvConfig

    with pytest.raises(ConfigError) as raised:
        EnvConfig(p_low=50.0, p_high=20.0)
    assert raised.value.problems == ["EnvConfig.p_high = 20.0: expected above p_low (50.0)"]
    with pytest.raises(ConfigError) as raised:
        EnvConfig(p_low=-1.0, p_high=-5.0)  # p_low's own range is reported, not the rule it would break
    assert raised.value.problems == ["EnvConfig.p_low = -1.0: expected a finite number > 0"]


def test_a_subclass_adds_to_its_bases_constraints():
    from phantom_lib.study.jax.actor_critic import PPOConfig
    from phantom_lib.study.jax.view import BudgetConfig

    assert set(BudgetConfig.parameter_constraints()) < set(PPOConfig.parameter_constraints())
    with pytest.raises(ConfigError, match=r"PPOConfig\.gamma = 1\.5"):
        PPOConfig(256, 9, gamma=1.5, n_steps=64, batch_size=16)
