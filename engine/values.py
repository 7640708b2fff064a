"""Checking values where they enter: a table of rules, one line per problem.

A rule is a function ``value -> None`` (fine) or the reason it is not, written to follow
the value: ``"must be a whole number >= 1"``. A table is ``{key: rule}``; ``check(table,
values, where)`` applies it to a dataclass or a dict and raises ``UniskelError``
``"{where}{key} = {value}: {reason}"`` at the first problem. The training config
(training/config.py: ``RULES``) and model files' own configs (engine/modelfile.py:
``MODEL_RULES``) are checked this way; argparse's range types (commands/options.py) use
the same rules. Imports nothing heavy.
"""
from __future__ import annotations

import math
from typing import Callable

from uniskel.engine.errors import UniskelError

Rule = Callable[[object], "str | None"]


def show(value) -> str:
    """A value as the user wrote it: TOML/JSON-like (lists in brackets, true/false)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(show(v) for v in value) + "]"
    if isinstance(value, str):
        return repr(value)
    if value is None:
        return "none"
    return str(value)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _bounds(lo, hi, above, below) -> str:
    low = f">= {lo:g}" if lo is not None else (f"> {above:g}" if above is not None else "")
    high = f"<= {hi:g}" if hi is not None else (f"< {below:g}" if below is not None else "")
    if lo is not None and hi is not None:
        return f"from {lo:g} to {hi:g}"
    return " and ".join(p for p in (low, high) if p)


def _in(v, lo, hi, above, below) -> bool:
    return ((lo is None or v >= lo) and (hi is None or v <= hi)
            and (above is None or v > above) and (below is None or v < below))


def whole(lo: int | None = None, hi: int | None = None) -> Rule:
    """An int (not a bool, not 2.0) in [lo, hi]."""
    reason = "must be a whole number" + (f" {_bounds(lo, hi, None, None)}"
                                         if lo is not None or hi is not None else "")

    def rule(v):
        return None if isinstance(v, int) and not isinstance(v, bool) \
            and _in(v, lo, hi, None, None) else reason
    return rule


def number(lo: float | None = None, hi: float | None = None, *, above: float | None = None,
           below: float | None = None) -> Rule:
    """A finite int or float within the bounds (``above``/``below``: exclusive)."""
    bounds = _bounds(lo, hi, above, below)
    reason = "must be a number" + (f" {bounds}" if bounds else "")

    def rule(v):
        return None if _is_number(v) and math.isfinite(v) \
            and _in(v, lo, hi, above, below) else reason
    return rule


def flag() -> Rule:
    return lambda v: None if isinstance(v, bool) else "must be true or false"


def one_of(*names, lookup: Callable[[], tuple] | None = None) -> Rule:
    """One of ``names`` (or of what ``lookup()`` gives, asked only when checking: a list
    that lives in a heavy module)."""
    def rule(v):
        known = tuple(lookup()) if lookup else names
        return None if isinstance(v, str) and v in known else \
            f"must be one of {', '.join(map(str, known))}"
    return rule


def text(empty: bool = False) -> Rule:
    def rule(v):
        if not isinstance(v, str):
            return "must be text (in quotes)"
        return None if empty or v.strip() else "must not be empty"
    return rule


def pair(item: Rule, what: str, ordered: bool = False) -> Rule:
    """Two values, each passing ``item`` (``what`` says which, in the plural;
    ``ordered``: the first at most the second)."""
    reason = f"must be two {what}" + (", the first at most the second" if ordered else "")

    def rule(v):
        if not isinstance(v, (list, tuple)) or len(v) != 2 or any(item(x) for x in v):
            return reason
        return reason if ordered and v[0] > v[1] else None
    return rule


def optional(rule: Rule) -> Rule:
    """``rule``, or None (not given)."""
    def check_it(v):
        return None if v is None else rule(v)
    return check_it


def either(*rules: Rule, reason: str) -> Rule:
    """Passes if any of ``rules`` does."""
    return lambda v: None if any(r(v) is None for r in rules) else reason


def problem(table: dict[str, Rule], values, where: str = "") -> str | None:
    """The first problem of ``values`` (a dataclass or a dict; keys a dict lacks are not
    checked) under ``table``, as ``"{where}{key} = {value}: {reason}"``, or None."""
    for key, rule in table.items():
        if isinstance(values, dict):
            if key not in values:
                continue
            value = values[key]
        else:
            value = getattr(values, key)
        reason = rule(value)
        if reason:
            return f"{where}{key} = {show(value)}: {reason}"
    return None


def check(table: dict[str, Rule], values, where: str = "") -> None:
    """Raise UniskelError with ``problem(...)``'s line if there is one."""
    line = problem(table, values, where)
    if line:
        raise UniskelError(line)
