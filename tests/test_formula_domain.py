import itertools

import pytest

from grader.expressions import parse_expression
from grader.formula_domain import IntegerDomain, formula_points, smallest_counterexample

CONV_BOUNDS = {"I": (1, None), "K": (1, None), "S": (1, None), "P": (0, None)}


@pytest.fixture(scope="module")
def conv() -> IntegerDomain:
    return IntegerDomain.from_text(CONV_BOUNDS, ["K <= I + 2*P"])


@pytest.fixture(scope="module")
def conv_points(conv):
    return formula_points(conv)


def gap(point):
    return point["I"] + 2 * point["P"] - point["K"]


def test_every_point_is_in_the_domain(conv, conv_points):
    for point in conv_points:
        assert list(point) == ["I", "K", "S", "P"]
        assert all(isinstance(v, int) for v in point.values())
        assert point["I"] >= 1 and point["K"] >= 1 and point["S"] >= 1 and point["P"] >= 0
        assert point["K"] <= point["I"] + 2 * point["P"]
        assert conv.contains(point)


def test_no_duplicates_and_reasonable_size(conv_points):
    keys = [tuple(p.values()) for p in conv_points]
    assert len(keys) == len(set(keys))
    assert 2000 < len(conv_points) < 3000


def test_deterministic_for_a_seed(conv, conv_points):
    assert formula_points(conv) == conv_points
    assert formula_points(conv, seed=1) != conv_points


def test_contains_the_exhaustive_grid_first(conv, conv_points):
    grid = [dict(zip("IKSP", values, strict=True))
            for values in itertools.product(range(1, 8), range(1, 8), range(1, 8), range(0, 7))]
    grid = [p for p in grid if conv.contains(p)]
    assert conv_points[:len(grid)] == grid


def test_contains_large_values(conv_points):
    for name in "IKSP":
        assert any(p[name] > 100_000 for p in conv_points), name
    # random values stay within large_max; solved equality points may go a few times over
    assert all(max(p.values()) <= 4 * 10**6 for p in conv_points)


def test_boundaries_low_with_large_others(conv_points):
    assert any(p["S"] == 1 and p["I"] > 1000 and p["P"] > 1000 for p in conv_points)
    assert any(p["P"] == 0 and p["I"] > 1000 for p in conv_points)
    assert any(p["K"] == 1 and p["I"] > 1000 for p in conv_points)


def test_equality_boundary_points(conv_points):
    equal = [p for p in conv_points if p["K"] == p["I"] + 2 * p["P"]]
    assert any(max(p.values()) > 1000 for p in equal)
    assert any(p["P"] > 1000 and p["K"] > 1000 for p in equal)
    assert any(p["P"] == 0 and p["K"] == p["I"] > 1000 for p in equal)
    # one step inside the boundary, with large values
    assert any(gap(p) == 1 and max(p.values()) > 1000 for p in conv_points)


def test_divisibility_cases_with_large_values(conv_points):
    large = [p for p in conv_points if max(p["I"], p["K"], p["P"]) > 1000]
    for s in (2, 3, 4, 5):
        residues = {gap(p) % s for p in large if p["S"] == s}
        assert residues == set(range(s)), s
    assert any(p["S"] > 1000 and gap(p) % p["S"] == 0 for p in large)
    assert any(p["S"] > 1000 and gap(p) % p["S"] == p["S"] - 1 for p in large)


def test_bounded_variables_reach_their_high():
    domain = IntegerDomain.from_text({"x": (-3, 50), "y": (2, 2000)}, ["x < y"])
    points = formula_points(domain)
    assert any(p["y"] == 2000 for p in points)
    assert any(p["x"] == 50 for p in points)
    assert any(p["y"] == p["x"] + 1 for p in points if p["x"] > 20)
    assert all(-3 <= p["x"] <= 50 and 2 <= p["y"] <= 2000 and p["x"] < p["y"] for p in points)


def test_unconstrained_four_variables_stay_small():
    domain = IntegerDomain({name: (0, None) for name in "abcd"})
    points = formula_points(domain)
    assert len(points) < 3000
    assert points == formula_points(domain)


def test_grid_limit_shrinks_many_variables():
    domain = IntegerDomain({name: (0, None) for name in "abcdef"})
    points = formula_points(domain, random_count=10)
    assert len(points) < 3000
    assert {"a": 0, "b": 0, "c": 0, "d": 0, "e": 0, "f": 0} in points


def test_nearly_empty_domain_terminates():
    domain = IntegerDomain.from_text({"x": (0, None), "y": (0, None)}, ["x*x == 2*y*y + 1"])
    points = formula_points(domain, random_count=50)
    assert points[:2] == [{"x": 1, "y": 0}, {"x": 3, "y": 2}]
    empty = IntegerDomain.from_text({"x": (0, None)}, ["x < 0"])
    assert formula_points(empty) == []


def test_constraint_dividing_by_zero_excludes_the_point():
    domain = IntegerDomain.from_text({"a": (0, 5), "b": (0, 5)}, ["a / b >= 1"])
    points = formula_points(domain)
    assert points and all(p["b"] != 0 and p["a"] >= p["b"] for p in points)


def test_domain_validation():
    with pytest.raises(ValueError, match="empty range"):
        IntegerDomain({"x": (3, 1)})
    with pytest.raises(ValueError, match="not a comparison"):
        IntegerDomain({"x": (0, None)}, (parse_expression("x + 1", ["x"]),))
    with pytest.raises(ValueError, match="unknown"):
        IntegerDomain({"x": (0, None)},
                      (parse_expression("x < y", ["x", "y"], allow_comparisons=True),))


def test_smallest_counterexample():
    points = [
        {"I": 1000, "K": 1, "S": 1, "P": 0},
        {"I": 5, "K": 3, "S": 2, "P": 1},
        {"I": 5, "K": 3, "S": 1, "P": 1},
        {"I": 3, "K": 5, "S": 1, "P": 1},
    ]
    # max |v| is 5 for all but the first; sums 11, 10, 10; then value order picks I=3
    assert smallest_counterexample(points) == {"I": 3, "K": 5, "S": 1, "P": 1}
    assert smallest_counterexample(iter(points[:2])) == {"I": 5, "K": 3, "S": 2, "P": 1}
    assert smallest_counterexample(points + [{"I": 4, "K": 4, "S": 4, "P": 4}])["S"] == 4
    assert smallest_counterexample([{"x": -2}, {"x": 1}]) == {"x": 1}
    with pytest.raises(ValueError):
        smallest_counterexample([])


def test_wrong_formula_is_caught_with_a_small_counterexample(conv_points):
    right = parse_expression("floor((I + 2*P - K)/S) + 1", "IKSP")
    same = parse_expression("ceil((I + 2*P - K + 1)/S)", "IKSP")  # an equivalent spelling
    wrong = parse_expression("ceil((I + 2*P - K)/S) + 1", "IKSP")  # off when S does not divide
    assert all(right.evaluate(p) == same.evaluate(p) for p in conv_points)
    bad = [p for p in conv_points if right.evaluate(p) != wrong.evaluate(p)]
    assert any(max(p.values()) > 1000 for p in bad)
    assert smallest_counterexample(bad) == {"I": 2, "K": 1, "S": 2, "P": 0}


def test_simplest_index_picks_what_smallest_counterexample_picks():
    from grader.formula_domain import simplest_index

    points = [{"I": 1000, "K": 1}, {"I": 5, "K": -3}, {"I": -5, "K": 3}, {"I": 3, "K": 5},
              {"I": 2, "K": 2}, {"I": 5, "K": 3}]
    assert simplest_index(points, [0, 1, 2, 3, 5]) == 2  # max 5, sum 8, then value order
    assert points[simplest_index(points, [0, 1, 3])] == smallest_counterexample(
        [points[0], points[1], points[3]])
    assert simplest_index(points, range(len(points))) == 4
    assert simplest_index([{"x": 1}, {"x": -1}, {"x": 1}], [0, 1, 2]) == 1
    with pytest.raises(ValueError):
        simplest_index(points, [])
