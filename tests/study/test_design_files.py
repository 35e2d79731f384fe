"""Studies declared in TOML files: the built-in designs give exactly the trials the Python designs
gave, and a bad design file is one line naming the file and the key."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from phantom_lib import study
from phantom_lib.study.design import files

PYTHON_DESIGNS = {
    "smoke": (26, "c6b1fe78c75b6708c7b020366bcdc2209ab5d4a3526736b7ea1e1bac449d9941"),
    "full": (912, "278d8cff3315e953c14ce011f4bda230fa8f35c65d6819540abfd5e74b7d2b13"),
    "factorial": (912, "51d1feac87cc9f54f033aee2fb7745b53bc700ff916afc6a82634e693ce82594"),
    "as-written": (330, "266e57cee279566073ba670eac5191a304f9f72ee8013acad7d4c7470c2d5069"),
    "as-run": (330, "32ec1929139ac96fbfd5ceba2d44dcac57b67a3e419d8f1249a486f95597217b"),
    "responsive": (48, "0add3105f25736dcdb2a8e7f288a2679299e525972c50d12249863eab7179aa3"),
}
"""Count and sha256 of ``json.dumps([[config, seed], ...], sort_keys=True)`` over ``design(DESIGNS[name])``
as the Python definitions in ``phantom_lib/study/design/designs.py`` gave them at commit d20ac4d
(before the designs moved to TOML files): configs with their value types (0 and 0.0 differ) and order."""


def digest(spec: study.StudyDesign) -> tuple[int, str]:
    trials = study.design(spec)
    text = json.dumps([[t.config, t.seed] for t in trials], sort_keys=True)
    return len(trials), hashlib.sha256(text.encode()).hexdigest()


@pytest.mark.parametrize("name", sorted(PYTHON_DESIGNS))
def test_each_builtin_toml_design_gives_exactly_the_trials_of_the_python_design(name: str):
    assert digest(files.DESIGNS[name]) == PYTHON_DESIGNS[name]


def test_the_digest_sees_a_changed_level_type_and_order():
    spec = files.DESIGNS["smoke"]
    retyped = study.StudyDesign({**spec.factors, "action_levels": (5.0,)}, spec.seeds, spec.settings,
                                spec.baseline_twins, spec.references)
    reordered = study.StudyDesign({**spec.factors, "alpha0": (0.4, 0.1)}, spec.seeds, spec.settings,
                                  spec.baseline_twins, spec.references)
    assert digest(retyped) != PYTHON_DESIGNS["smoke"] and digest(reordered) != PYTHON_DESIGNS["smoke"]


TOML_ONLY = ("sales",)
"""Built-in designs written as TOML files from the start (no Python definition to match)."""


def test_every_builtin_is_a_file_and_every_study_names_a_preregistration():
    assert sorted(files.DESIGNS) == sorted([*PYTHON_DESIGNS, *TOML_ONLY])
    for name, plan in files.BUILTIN.items():
        assert plan.source == files.BUILTIN_DIR / f"{name}.toml"
        assert (plan.kind == "smoke") == (plan.preregistration is None), name
        files.check_trials(plan)


def test_the_thesis_protocol_files_match_the_published_protocol():
    from phantom_lib.published import EVALUATION

    for name in ("as-written", "as-run"):
        spec = files.DESIGNS[name]
        assert spec.factors["alpha0"] == EVALUATION["alphas"] and spec.seeds == EVALUATION["seeds"]
        assert spec.factors["eps_alpha"] == (EVALUATION["eps_alpha_defended"],)
        assert (spec.settings["timesteps"], spec.settings["eval_episodes"], spec.settings["max_steps"],
                spec.settings["n_products"]) == (EVALUATION["train_steps"], EVALUATION["eval_episodes"],
                                                 EVALUATION["episode_steps"], EVALUATION["n_products"])


GOOD = """
name = "mine"
kind = "smoke"
seeds = [0]
baseline_twins = true
references = ["static"]

[factors]
algorithm = ["ppo"]
alpha0 = [0.1, 0.4]

[budget]
timesteps = 64
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "design.toml"
    path.write_text(text)
    return path


def test_a_good_file_loads_into_the_study_design(tmp_path: Path):
    plan = files.load_plan(write(tmp_path, GOOD))
    assert plan.name == "mine" and plan.kind == "smoke" and plan.engine is None
    assert plan.design == study.StudyDesign({"algorithm": ("ppo",), "alpha0": (0.1, 0.4)}, seeds=(0,),
                                            settings={"timesteps": 64}, baseline_twins=True, references=("static",))
    files.check_trials(plan)
    assert files.resolve(str(tmp_path / "design.toml")).design == plan.design
    assert files.resolve("smoke") is files.BUILTIN["smoke"]


BAD = [
    ('alpha0 = [0.1, 0.4]', 'alpha0 = [0.1, "x"]', "factors.alpha0 = 'x': expected a finite number in [0, 1]"),
    ('alpha0 = [0.1, 0.4]', 'alpha0 = []', "factors.alpha0 = []: expected a non-empty list of levels"),
    ('timesteps = 64', 'timesteps = 0', "budget.timesteps = 0: expected an integer >= 1"),
    ('timesteps = 64', 'lr = 0.1', "budget.lr = 0.1: expected a key of [budget]: one of timesteps"),
    ('seeds = [0]', 'seeds = [0, 0]', "seeds = [0, 0]: expected a non-empty list of distinct integers >= 0"),
    ('kind = "smoke"', 'kind = "study"', "preregistration = None: expected the path of the study's pre-registration"),
    ('kind = "smoke"', 'kind = "smoke"\nengine = "tpu"', "engine = 'tpu': expected one of 'sb3', 'jax'"),
    ('references = ["static"]', 'references = ["oracle"]', "references = ['oracle']: expected a list of reference"),
    ('name = "mine"', 'colour = "red"\nname = "mine"', "colour = 'red': expected a known key"),
    ('alpha0 = [0.1, 0.4]', 'alpha0 = [0.1, 0.4]\nproxy = ["share", "massive"]',
     "factors.proxy = 'massive': expected one of"),
    ('alpha0 = [0.1, 0.4]', 'alpha0 = [0.1, 0.4]\nlearning_rate = [0.1]',
     "factors.learning_rate: not a trial setting the study's trainable reads"),
    ('[factors]', '[factors\n', "not valid TOML"),
]


@pytest.mark.parametrize("old,new,message", BAD, ids=[b[2][:40] for b in BAD])
def test_a_bad_file_is_one_line_naming_the_file_and_the_key(tmp_path: Path, old: str, new: str, message: str):
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(files.DesignFileError) as info:
        files.check_trials(files.load_plan(path))
    text = str(info.value)
    assert "\n" not in text and text.startswith(f"{path}: ") and message in text, text


def test_an_unknown_name_or_missing_file_is_one_line(tmp_path: Path):
    with pytest.raises(files.DesignFileError, match=r"^--design nosuch: not a built-in design \(as-run, "):
        files.resolve("nosuch")
    with pytest.raises(files.DesignFileError, match="no such design file"):
        files.resolve(str(tmp_path / "missing.toml"))


def test_the_readme_example_design_loads_and_checks(tmp_path: Path):
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("### Your own study, declared in a file", 1)[1]
    example = section.split("```toml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "my-study.toml").write_text(example)
    (tmp_path / "my-study.prereg.toml").write_text("title = 'beside it'\n")
    plan = files.load_plan(tmp_path / "my-study.toml")
    files.check_trials(plan)
    assert plan.kind == "study" and plan.preregistration == (tmp_path / "my-study.prereg.toml").resolve()
    assert len(study.design(plan.design)) == 3 * (3 + 3 + 2 * 3)  # seeds x (cells + twins + references)


def test_shrunk_copy_keeps_the_listed_levels_and_drops_the_rules():
    from phantom_lib.study.design import files

    plan = files.BUILTIN["responsive"]
    small = files.shrunk(plan, {"alpha0": [0.4, 0.5], "algorithm": ["ppo"]}, (1,), {"timesteps": 64})
    assert small.design.factors["alpha0"] == (0.4,) and small.design.seeds == (1,)
    assert small.design.settings["timesteps"] == 64 and small.design.settings["visits"] == "price_responsive"
    assert (small.kind, small.preregistration, small.design.references) == ("smoke", None, ())
    with pytest.raises(files.DesignFileError, match="levels alpha0 of the design has"):
        files.shrunk(plan, {"alpha0": [0.5]}, (0,), {})
