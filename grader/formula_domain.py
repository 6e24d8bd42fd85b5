"""Integer points on which a formula is checked: small grid, boundaries, divisibility, random.

Nothing here knows what the formula is about: the points come from the domain alone (bounds per
variable and comparison constraints such as ``K <= I + 2*P``). ``formula_points`` returns, in this
order and without duplicates, only points that lie in the domain:

1. the exhaustive small grid: each variable from its low to ``min(high, low + grid_max)``;
2. boundaries: each variable at its low and at its high (when bounded), the others small, large or
   a random mix of both; then equality points of every constraint comparison ``L op R``: from a
   set of base points, each variable ``v`` of the comparison in turn is solved for ``L == R``
   when ``L - R`` is linear in ``v`` (checked numerically on three values and verified on the
   solution), keeping the solution and its neighbours ``v - 1`` and ``v + 1`` (floor and ceil when
   the solution is not a whole number). With several comparisons the bases are shared out
   among them so the number of points stays bounded;
3. divisibility: for each ordered pair of variables ``(a, b)``, ``b`` is set to each of its four
   smallest values ``m >= 2``, the others to large random values, and ``a`` is nudged through
   ``m`` consecutive values (``-2..+2`` when ``m > 16``). A linear combination with coefficient
   ±1 on ``a`` then takes every residue modulo ``m``: it is a multiple of ``b`` and off by one.
   Also ``b`` near ``a / q`` (q = 1, 2) with the others at their lows and ``a`` large, nudged by
   -1..+1, so a large ``a`` is (nearly) a multiple of a large ``b``;
4. ``random_count`` random points (``random.Random(seed)``) with values up to ``large_max``: each
   value uniform on its range, log-uniform (to cover every scale) or small, rejection-sampled
   against the constraints with a bounded number of attempts.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from grader.expressions import Expression, parse_expression

__all__ = ["IntegerDomain", "formula_points", "simplest_index", "smallest_counterexample"]

Point = dict[str, int]


@dataclass(frozen=True)
class IntegerDomain:
    """Integer variables with bounds, and comparison constraints that every point satisfies."""

    variables: dict[str, tuple[int, int | None]]  # name -> (low, high or None), ordered
    constraints: tuple[Expression, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "constraints", tuple(self.constraints))
        for name, (low, high) in self.variables.items():
            if not isinstance(low, int) or (high is not None and not isinstance(high, int)):
                raise ValueError(f"the bounds of {name} must be integers")
            if high is not None and high < low:
                raise ValueError(f"{name} has an empty range [{low}, {high}]")
        for constraint in self.constraints:
            if not constraint.is_condition:
                raise ValueError(f"constraint {constraint.text!r} is not a comparison")
            unknown = sorted(constraint.variables - self.variables.keys())
            if unknown:
                raise ValueError(f"constraint {constraint.text!r} uses unknown {unknown}")

    @classmethod
    def from_text(cls, variables: Mapping[str, tuple[int, int | None]],
                  constraints: Iterable[str] = ()) -> IntegerDomain:
        """A domain whose constraints are given as text (parsed with comparisons allowed)."""
        names = list(variables)
        parsed = tuple(parse_expression(text, names, allow_comparisons=True)
                       for text in constraints)
        return cls(dict(variables), parsed)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.variables)

    def contains(self, point: Mapping[str, int]) -> bool:
        """True when ``point`` is within every bound and satisfies every constraint."""
        for name, (low, high) in self.variables.items():
            value = point[name]
            if value < low or (high is not None and value > high):
                return False
        try:
            return all(constraint.evaluate(point) for constraint in self.constraints)
        except ZeroDivisionError:
            return False


def formula_points(domain: IntegerDomain, *, grid_max: int = 6, random_count: int = 200,
                   large_max: int = 10**6, seed: int = 0,
                   grid_limit: int = 2500) -> list[Point]:
    """Deterministic, de-duplicated points of ``domain`` to check a formula on (module doc).

    ``grid_limit`` caps the exhaustive grid: with many variables the per-variable width shrinks
    until the grid has at most that many points (4 variables with the defaults: the full 7**4).
    """
    if grid_max < 0 or random_count < 0 or large_max < 1:
        raise ValueError("grid_max and random_count must be >= 0 and large_max >= 1")
    sampler = _Sampler(domain, random.Random(seed), grid_max, large_max)
    points = _PointSet(domain)
    points.extend(_grid_points(domain, grid_max, grid_limit))
    extremes = list(_extreme_points(domain, sampler))
    points.extend(extremes)
    points.extend(_equality_points(domain, sampler, extremes))
    points.extend(_divisibility_points(domain, sampler))
    points.extend(_ratio_points(domain, sampler))
    points.extend(_random_points(domain, sampler, random_count))
    return points.points


def smallest_counterexample(points: Iterable[Mapping[str, int]]) -> dict[str, int]:
    """The simplest point: least max |value|, then least sum of |values|, then by value order."""
    candidates: list[Mapping[str, int]] = list(points)
    if not candidates:
        raise ValueError("no points given")
    return dict(candidates[simplest_index(candidates, range(len(candidates)))])


def simplest_index(points: Sequence[Mapping[str, int]], indices: Sequence[int]) -> int:
    """The index, among ``indices``, of the simplest point (the first of equals; see above)."""
    if not indices:
        raise ValueError("no points given")
    # The full order only among the points of least max |value|: most have a larger one.
    largest = [max(map(abs, points[i].values()), default=0) for i in indices]
    least = min(largest)
    return min((i for i, m in zip(indices, largest) if m == least),
               key=lambda i: _simplicity(points[i]))


def _simplicity(point: Mapping[str, int]) -> tuple[int, int, tuple[int, ...]]:
    values = tuple(point.values())
    magnitudes = [abs(v) for v in values]
    return (max(magnitudes, default=0), sum(magnitudes), values)


# --------------------------------------------------------------------------- helpers


class _PointSet:
    """Keeps the in-domain points, in first-seen order, each once."""

    def __init__(self, domain: IntegerDomain):
        self.domain = domain
        self.seen: set[tuple[int, ...]] = set()
        self.points: list[Point] = []

    def extend(self, candidates: Iterable[Mapping[str, int]]) -> None:
        for candidate in candidates:
            key = tuple(candidate[name] for name in self.domain.names)
            if key in self.seen:
                continue
            self.seen.add(key)  # also remembers refused points: they are never tried twice
            if self.domain.contains(candidate):
                self.points.append(dict(zip(self.domain.names, key, strict=True)))


class _Sampler:
    """Random values per variable: small, large (upper half of the range) or mixed scales."""

    def __init__(self, domain: IntegerDomain, rng: random.Random, grid_max: int, large_max: int):
        self.domain = domain
        self.rng = rng
        self.grid_max = grid_max
        self.ranges = {name: (low, _sampling_high(low, high, large_max))
                       for name, (low, high) in domain.variables.items()}

    def small(self, name: str) -> int:
        low, high = self.ranges[name]
        return self.rng.randint(low, min(high, low + 2 * self.grid_max + 2))

    def large(self, name: str) -> int:
        low, high = self.ranges[name]
        return self.rng.randint(low + (high - low) // 2, high)

    def mixed(self, name: str) -> int:
        low, high = self.ranges[name]
        draw = self.rng.random()
        if draw < 0.5:
            return self.rng.randint(low, high)
        if draw < 0.75:
            # log-uniform offset from low: every order of magnitude is as likely
            offset = int(math.exp(self.rng.uniform(0.0, math.log(high - low + 1)))) - 1
            return min(high, low + offset)
        return self.small(name)

    def point(self, kind: str) -> Point:
        draw: Callable[[str], int] = getattr(self, kind)
        return {name: draw(name) for name in self.domain.names}


def _sampling_high(low: int, high: int | None, large_max: int) -> int:
    top = large_max if large_max > low else low + large_max
    return top if high is None else min(high, top)


def _grid_points(domain: IntegerDomain, grid_max: int, grid_limit: int) -> Iterator[Point]:
    width = grid_max
    while width > 0 and _grid_size(domain, width) > grid_limit:
        width -= 1
    ranges = []
    for low, high in domain.variables.values():
        top = low + width if high is None else min(high, low + width)
        ranges.append(range(low, top + 1))
    for values in itertools.product(*ranges):
        yield dict(zip(domain.names, values, strict=True))


def _grid_size(domain: IntegerDomain, width: int) -> int:
    return math.prod(width + 1 if high is None else min(width, high - low) + 1
                     for low, high in domain.variables.values())


def _extreme_points(domain: IntegerDomain, sampler: _Sampler) -> Iterator[Point]:
    """Each variable at its low and its high, the others low, large, or a random mix."""
    for name, (low, high) in domain.variables.items():
        for extreme in (low,) if high is None else (low, high):
            others = [other for other in domain.names if other != name]
            patterns = [{other: domain.variables[other][0] for other in others},
                        {other: sampler.large(other) for other in others}]
            for _ in range(4):
                patterns.append({other: sampler.rng.choice((sampler.small, sampler.large))(other)
                                 for other in others})
            for pattern in patterns:
                yield {**pattern, name: extreme}


def _equality_points(domain: IntegerDomain, sampler: _Sampler,
                     extremes: list[Point]) -> Iterator[Point]:
    """Points where a constraint comparison holds with equality, or is one step from it."""
    links = [link for constraint in domain.constraints for link in constraint.comparisons()]
    if not links:
        return
    bases = extremes + [sampler.point(kind) for kind in ("large",) * 4 + ("mixed",) * 4
                        + ("small",) * 2]
    for index, (left, _, right) in enumerate(links):
        names = [name for name in domain.names if name in left.variables | right.variables]
        # With several comparisons each gets its own share of the bases, to bound the count.
        for base in bases[index % len(bases)::len(links)] if len(links) > 1 else bases:
            for name in names:
                for value in _solve_equal(left, right, base, name):
                    yield {**base, name: value}


def _solve_equal(left: Expression, right: Expression, base: Point, name: str) -> list[int]:
    """Integer values of ``name`` around where ``left == right`` (others as in ``base``)."""
    def gap(value: int) -> Fraction:
        point = {**base, name: value}
        return Fraction(left.evaluate(point)) - Fraction(right.evaluate(point))

    start = base[name]
    try:
        g0, g1, g2 = gap(start), gap(start + 1), gap(start + 2)
        slope = g1 - g0
        if slope == 0 or g2 - g1 != slope:
            return []
        root = start - g0 / slope
        if root.denominator == 1:
            value = int(root)
            return [value - 1, value, value + 1] if gap(value) == 0 else []
        return [math.floor(root), math.ceil(root)]
    except ZeroDivisionError:
        return []


def _modulus_values(low: int, high: int | None) -> list[int]:
    first = max(low, 2)
    last = first + 3 if high is None else min(high, first + 3)
    return list(range(first, last + 1))


def _nudges(modulus: int) -> range:
    if modulus > 16:
        return range(-2, 3)
    return range(-(modulus // 2), modulus - modulus // 2)


def _divisibility_points(domain: IntegerDomain, sampler: _Sampler,
                         attempts: int = 20) -> Iterator[Point]:
    """Large points with ``b`` small, ``a`` nudged through every residue modulo ``b``."""
    for a, b in itertools.permutations(domain.names, 2):
        for modulus in _modulus_values(*domain.variables[b]):
            base = _first_in_domain(
                domain, ({**sampler.point("large"), b: modulus} for _ in range(attempts)))
            if base is None:
                continue
            for step in _nudges(modulus):
                yield {**base, a: base[a] + step}


def _ratio_points(domain: IntegerDomain, sampler: _Sampler) -> Iterator[Point]:
    """``a`` large, ``b`` about ``a / q``, the others at their lows; ``a`` nudged by -1..+1."""
    lows = {name: low for name, (low, _) in domain.variables.items()}
    for a, b in itertools.permutations(domain.names, 2):
        big = sampler.large(a)
        for q in (1, 2):
            base = {**lows, a: big, b: big // q}
            for step in (-1, 0, 1):
                yield {**base, a: big + step}


def _random_points(domain: IntegerDomain, sampler: _Sampler, count: int) -> Iterator[Point]:
    accepted = 0
    for _ in range(50 * count + 100):
        if accepted == count:
            return
        point = sampler.point("mixed")
        if domain.contains(point):
            accepted += 1
            yield point


def _first_in_domain(domain: IntegerDomain, candidates: Iterable[Point]) -> Point | None:
    return next((point for point in candidates if domain.contains(point)), None)
