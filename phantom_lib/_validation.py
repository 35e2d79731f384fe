"""One way to check configuration values: collect every problem, raise one error.

Every configuration class of the library declares its fields' constraints as data
(``_parameter_constraints``, the constraint classes at the end of this module) and inherits
:meth:`Validated.validate`; the constraints report through these helpers. Each helper returns ``None`` when the value
is allowed and otherwise one line in the
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
from collections.abc import Callable, Iterable, Mapping, Sequence
from numbers import Integral
from numbers import Real as _RealNumber
from typing import Any, ClassVar


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
    return isinstance(value, _RealNumber) and not isinstance(value, bool) and math.isfinite(float(value))


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


# --- Constraints declared as data ----------------------------------------------------------------
#
# A configuration class declares what each field allows in ``_parameter_constraints`` (field ->
# constraints), scikit-learn's habit, and inherits one ``validate`` from :class:`Validated`::
#
#     @dataclass(frozen=True)
#     class PPOConfig(Validated):
#         n_steps: int = 2048
#         batch_size: int = 256
#         _parameter_constraints = {"n_steps": (Integer(low=1),),
#                                   "batch_size": (Integer(low=1), Rule(lambda c: c.n_steps % c.batch_size == 0,
#                                                                       "a divisor of n_steps ({n_steps})"))}
#
# Per-field constraints run first; the cross-field :class:`Rule` constraints run only when every
# field passed its own, so a bad value gives one line naming its field, not a cascade.


class Constraint:
    """What one field allows. :meth:`problem` returns ``None`` or one problem line; :meth:`bad_value`
    is a value the constraint rejects (the contract test feeds it to every declared field)."""

    def problem(self, owner: str, name: str, value: Any) -> str | None:
        raise NotImplementedError

    def bad_value(self) -> Any:
        raise NotImplementedError


class Integer(Constraint):
    """An integer in [low, high] (either bound optional); ``bool`` is not an integer."""

    def __init__(self, low: int | None = None, high: int | None = None) -> None:
        self.low, self.high = low, high

    def problem(self, owner: str, name: str, value: Any) -> str | None:
        return integer(owner, name, value, low=self.low, high=self.high)

    def bad_value(self) -> Any:
        return self.low - 1 if self.low is not None else 0.5


class Real(Constraint):
    """A finite real number inside an interval (either bound optional, either end open)."""

    def __init__(
        self, low: float | None = None, high: float | None = None, *, low_open: bool = False, high_open: bool = False
    ) -> None:
        self.low, self.high, self.low_open, self.high_open = low, high, low_open, high_open

    def problem(self, owner: str, name: str, value: Any) -> str | None:
        return real(owner, name, value, low=self.low, high=self.high, low_open=self.low_open, high_open=self.high_open)

    def bad_value(self) -> Any:
        return float("nan")


class Choice(Constraint):
    """One of ``options``."""

    def __init__(self, options: Iterable[Any]) -> None:
        self.options = tuple(options)

    def problem(self, owner: str, name: str, value: Any) -> str | None:
        return choice(owner, name, value, self.options)

    def bad_value(self) -> Any:
        return "none-of-the-choices"


class Boolean(Constraint):
    """``True`` or ``False``."""

    def problem(self, owner: str, name: str, value: Any) -> str | None:
        return boolean(owner, name, value)

    def bad_value(self) -> Any:
        return "yes"


class Text(Constraint):
    """A non-empty string (``what`` says what it names, for the message)."""

    def __init__(self, what: str = "a non-empty string") -> None:
        self.what = what

    def problem(self, owner: str, name: str, value: Any) -> str | None:
        return None if isinstance(value, str) and value.strip() else problem(owner, name, value, self.what)

    def bad_value(self) -> Any:
        return " "


class InstanceOf(Constraint):
    """An instance of ``kind`` (a nested configuration, a callable, ...)."""

    def __init__(self, kind: type | tuple[type, ...], what: str) -> None:
        self.kind, self.what = kind, what

    def problem(self, owner: str, name: str, value: Any) -> str | None:
        return None if isinstance(value, self.kind) else problem(owner, name, value, self.what)

    def bad_value(self) -> Any:
        return ("not", "this", "kind")


class IsCallable(Constraint):
    """A callable."""

    def problem(self, owner: str, name: str, value: Any) -> str | None:
        return None if callable(value) else problem(owner, name, value, "a callable")

    def bad_value(self) -> Any:
        return 0


class OrNone(Constraint):
    """``None`` or what ``inner`` allows."""

    def __init__(self, inner: Constraint) -> None:
        self.inner = inner

    def problem(self, owner: str, name: str, value: Any) -> str | None:
        return None if value is None else self.inner.problem(owner, name, value)

    def bad_value(self) -> Any:
        return self.inner.bad_value()


class Each(Constraint):
    """A sequence of at least ``min_length`` items, each allowed by ``inner``."""

    def __init__(self, inner: Constraint, min_length: int = 1) -> None:
        self.inner, self.min_length = inner, min_length

    def problem(self, owner: str, name: str, value: Any) -> str | None:
        return each(owner, name, value, self.inner.problem, min_length=self.min_length)

    def bad_value(self) -> Any:
        return (self.inner.bad_value(),)


class Satisfies(Constraint):
    """A value for which ``test(value)`` holds; ``bad`` is one for which it does not (for the contract test)."""

    def __init__(self, test: Callable[[Any], bool], expected: str, bad: Any) -> None:
        self.test, self.expected, self.bad = test, expected, bad

    def problem(self, owner: str, name: str, value: Any) -> str | None:
        return None if self.test(value) else problem(owner, name, value, self.expected)

    def bad_value(self) -> Any:
        return self.bad


class Rule(Constraint):
    """A cross-field rule on the whole object: ``holds(obj)``; ``expected`` is formatted with the
    object's fields (``"above p_low ({p_low!r})"``) or, if callable, called with the object. Runs only when every
    field passed its own
    constraints, so it may assume well-typed fields. It has no bad value of its own."""

    def __init__(self, holds: Callable[[Any], bool], expected: str | Callable[[Any], str]) -> None:
        self.holds, self.expected = holds, expected

    def check_object(self, owner: str, name: str, obj: Any) -> str | None:
        if self.holds(obj):
            return None
        expected = self.expected(obj) if callable(self.expected) else self.expected.format_map(_Fields(obj))
        return problem(owner, name, getattr(obj, name), expected)

    def problem(self, owner: str, name: str, value: Any) -> str | None:
        return None  # checked on the whole object by Validated.validate


class _Fields(dict):  # type: ignore[type-arg]
    """``str.format_map`` view of an object's attributes."""

    def __init__(self, obj: Any) -> None:
        super().__init__()
        self.obj = obj

    def __missing__(self, key: str) -> Any:
        return getattr(self.obj, key)


class Validated:
    """Base of the configuration classes: ``validate`` checks the declared ``_parameter_constraints``
    (merged along the class hierarchy: a subclass adds to its base's) and raises one
    :class:`ConfigError` listing every problem. Dataclasses call it from ``__post_init__``."""

    _parameter_constraints: ClassVar[Mapping[str, tuple[Constraint, ...]]] = {}

    @classmethod
    def parameter_constraints(cls) -> dict[str, tuple[Constraint, ...]]:
        """Field -> constraints, the base classes' first."""
        merged: dict[str, tuple[Constraint, ...]] = {}
        for klass in reversed(cls.__mro__):
            for name, constraints in vars(klass).get("_parameter_constraints", {}).items():
                merged[name] = merged.get(name, ()) + tuple(constraints)
        return merged

    def validate(self) -> None:
        """Raise :class:`ConfigError` if any field breaks its constraints (field rules before cross-field ones)."""
        owner = type(self).__name__
        declared = self.parameter_constraints()
        problems = [c.problem(owner, name, getattr(self, name)) for name, cs in declared.items() for c in cs]
        if not any(problems):
            problems = [
                c.check_object(owner, name, self) for name, cs in declared.items() for c in cs if isinstance(c, Rule)
            ]
        check(owner, *problems)

    def __post_init__(self) -> None:
        self.validate()
