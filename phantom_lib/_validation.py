"""One way to check configuration values: collect every problem, raise one error.

Every configuration class of the library validates its fields in ``__post_init__`` with these
helpers. Each helper returns ``None`` when the value is allowed and otherwise one line in the
format

    ``Owner.field = value: expected <what is allowed>``

so an error always names the field, the value it got and the allowed range or choices.
:func:`check` raises a single :class:`ConfigError` listing every problem found, so a user fixes
all of them in one go instead of one per run::

    check("EnvConfig",
          real("EnvConfig", "alpha0", alpha0, low=0, high=1),
          integer("EnvConfig", "max_steps", max_steps, low=1),
          choice("EnvConfig", "backend", backend, ("reference", "numpy", "jax")))

(scikit-learn's parameter validation was the model: one style, one message format.)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from numbers import Integral, Real
from typing import Any


class ConfigError(ValueError):
    """A configuration value is not allowed. ``problems`` holds one line per bad field."""

    def __init__(self, owner: str, problems: Sequence[str]) -> None:
        self.owner = owner
        self.problems = list(problems)
        count = f"{len(self.problems)} problem" + ("s" if len(self.problems) != 1 else "")
        super().__init__(f"invalid {owner} ({count}):\n  - " + "\n  - ".join(self.problems))


def problem(owner: str, name: str, value: Any, expected: str) -> str:
    """One problem line: ``Owner.name = value: expected <expected>``."""
    return f"{owner}.{name} = {value!r}: expected {expected}"


def _interval(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '>='} {low:g}"
    if high is not None:
        return f"{'<' if high_open else '<='} {high:g}"
    return ""


def _outside(x: float, low: float | None, high: float | None, low_open: bool, high_open: bool) -> bool:
    if low is not None and (x < low or (low_open and x == low)):
        return True
    return high is not None and (x > high or (high_open and x == high))


def is_integer(value: Any) -> bool:
    """True for Python and numpy integers (``bool`` is not an integer here)."""
    return isinstance(value, Integral) and not isinstance(value, bool)


def is_real(value: Any) -> bool:
    """True for finite Python and numpy real numbers (``bool`` excluded)."""
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(float(value))


def integer(owner: str, name: str, value: Any, *, low: int | None = None, high: int | None = None) -> str | None:
    """``None`` if ``value`` is an integer in [low, high] (either bound may be omitted)."""
    expected = " ".join(filter(None, ["an integer", _interval(low, high, False, False)]))
    if not is_integer(value) or _outside(int(value), low, high, False, False):
        return problem(owner, name, value, expected)
    return None


def real(
    owner: str,
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> str | None:
    """``None`` if ``value`` is a finite real number inside the interval (open ends optional)."""
    expected = " ".join(filter(None, ["a finite number", _interval(low, high, low_open, high_open)]))
    if not is_real(value) or _outside(float(value), low, high, low_open, high_open):
        return problem(owner, name, value, expected)
    return None


def choice(owner: str, name: str, value: Any, options: Iterable[Any]) -> str | None:
    """``None`` if ``value`` is one of ``options``."""
    options = tuple(options)
    if isinstance(value, bool) or value not in options:
        return problem(owner, name, value, "one of " + ", ".join(repr(o) for o in options))
    return None


def boolean(owner: str, name: str, value: Any) -> str | None:
    """``None`` if ``value`` is ``True`` or ``False`` (numpy booleans included)."""
    if not (isinstance(value, bool) or type(value).__name__ == "bool_"):
        return problem(owner, name, value, "True or False")
    return None


def each(owner: str, name: str, values: Any, test: Any, *, min_length: int = 1) -> str | None:
    """``None`` if ``values`` is a sequence of at least ``min_length`` items, each passing ``test``.

    ``test`` is one of this module's helpers with its bounds bound, called as
    ``test(owner, name, item)``; the first failing item is reported with the whole value.
    """
    try:
        items = list(values)
    except TypeError:
        return problem(owner, name, values, f"a list of at least {min_length} item(s)")
    if len(items) < min_length:
        return problem(owner, name, values, f"a list of at least {min_length} item(s)")
    for item in items:
        found = test(owner, name, item)
        if found is not None:
            return problem(owner, name, values, "a list whose items are " + found.split(": expected ", 1)[1])
    return None


def relation(owner: str, name: str, value: Any, holds: bool, expected: str) -> str | None:
    """``None`` if ``holds``; otherwise ``value`` broke a cross-field rule stated by ``expected``."""
    return None if holds else problem(owner, name, value, expected)


def check(owner: str, *problems: str | None) -> None:
    """Raise :class:`ConfigError` if any of ``problems`` (results of the helpers) is not ``None``."""
    found = [p for p in problems if p is not None]
    if found:
        raise ConfigError(owner, found)
