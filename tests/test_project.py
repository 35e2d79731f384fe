"""The project's own install files: environment.yml agrees with pyproject.toml, and installing
prints no setuptools deprecation."""

from __future__ import annotations

import re
import tomllib
import warnings
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
ENVIRONMENT = yaml.safe_load((ROOT / "environment.yml").read_text())

def conda_requirement(spec: str) -> tuple[str, SpecifierSet]:
    """A conda match-spec of the forms used here (``numpy>=2``, ``python=3.11``) as a name and a
    PEP 440 specifier; conda's single ``=`` means "this version or any of its patch releases"."""
    name, op, version = re.fullmatch(r"([A-Za-z0-9_.\-]+)\s*(>=|<=|==|=|>|<)?\s*(.*)", spec).groups()
    if op == "=":
        return name.lower(), SpecifierSet(f"=={version}.*")
    return name.lower(), SpecifierSet(f"{op}{version}" if op else "")


def test_environment_yml_pins_the_same_scientific_stack_as_pyproject():
    assert ENVIRONMENT["channels"] == ["conda-forge"]
    conda = dict(conda_requirement(d) for d in ENVIRONMENT["dependencies"] if isinstance(d, str))
    pip_section = next(d["pip"] for d in ENVIRONMENT["dependencies"] if isinstance(d, dict))
    core = {Requirement(r).name.lower(): Requirement(r).specifier for r in PYPROJECT["project"]["dependencies"]}
    assert set(conda) - {"python", "pip"} == set(core)  # conda-forge's names are PyPI's (jax brings jaxlib)
    for name, specifier in core.items():
        assert conda[name] == specifier, name
    python = conda["python"]
    assert all(Version(v) in SpecifierSet(PYPROJECT["project"]["requires-python"]) for v in ("3.11.0", "3.11.9"))
    assert "3.11.4" in python and "3.12.0" not in python
    assert pip_section == ["--editable .[all]"]  # the project itself, with every extra, from PyPI


def test_every_extra_is_in_all_and_the_newcomer_tools_are_installed():
    extras = PYPROJECT["project"]["optional-dependencies"]
    (everything,) = extras["all"]
    assert Requirement(everything).name == "phantom_lib"
    assert Requirement(everything).extras == set(extras) - {"all"}
    names = {Requirement(r).name: Requirement(r) for group in extras.values() for r in group}
    assert {"jupyterlab", "jupytext"} <= set(names)  # `make lab`
    assert "client" in names["ray"].extras  # ray:// addresses need Ray's client (grpcio)


def test_the_licence_is_an_spdx_string_so_setuptools_prints_no_deprecation(tmp_path: Path):
    from setuptools.config.pyprojecttoml import apply_configuration
    from setuptools.dist import Distribution

    assert PYPROJECT["project"]["license"] == "MIT"
    assert any(r.startswith("setuptools>=77") for r in PYPROJECT["build-system"]["requires"])

    def warnings_of(license_line: str) -> list[str]:
        (tmp_path / "pyproject.toml").write_text(f'[project]\nname = "x"\nversion = "0.1"\n{license_line}\n')
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            apply_configuration(Distribution(), tmp_path / "pyproject.toml")
        return [str(w.message) for w in caught]

    assert any("license" in m for m in warnings_of('license = { text = "MIT" }'))  # the old form warns
    assert warnings_of('license = "MIT"') == []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dist = apply_configuration(Distribution(), ROOT / "pyproject.toml")
    assert dist.metadata.license_expression == "MIT"
    assert not [w for w in caught if "license" in str(w.message).lower()]


@pytest.mark.parametrize("spec, name, inside, outside", [
    ("python=3.11", "python", "3.11.7", "3.12.0"),
    ("numpy>=2", "numpy", "2.0.0", "1.26.4"),
])
def test_conda_specs_are_read_as_conda_reads_them(spec, name, inside, outside):
    parsed_name, specifier = conda_requirement(spec)
    assert parsed_name == name and inside in specifier and outside not in specifier
