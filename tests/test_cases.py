"""Value nodes and seeded case generation."""

from __future__ import annotations

import numpy as np
import pytest

from grader.cases import CaseError, CaseIdentity, NodeContext, evaluate, generated_cases, prepare_constants
from grader.spec.model import Generate

CONSTANTS = prepare_constants({"A": [[1, 2], [3, 4]], "NAME": "x"})
GENERATE = Generate(
    count=5,
    variables={"H": [2, 6], "K": [1, 3], "S": [1, 2]},
    where=["K <= H"],
    args=[{"array": ["H", "H + 1"], "values": {"uniform": [-1, 1]}}, {"tuple": [{"var": "K"}, {"var": "K"}]}, {"var": "S"}, {"expr": "floor((H - K)/S) + 1"}],
    categories={"stride > 1": "S > 1"},
)


def test_constants_become_float64_arrays_and_are_copied():
    first = evaluate({"const": "A"}, NodeContext(CONSTANTS))
    assert first.dtype == np.float64 and first.shape == (2, 2)
    first[0, 0] = 99
    assert evaluate({"const": "A"}, NodeContext(CONSTANTS))[0, 0] == 1


def test_nodes_nest_inside_literals():
    value = evaluate({"k": [{"tuple": [1, 2]}, {"plain": {"var": "not a node"}}]}, NodeContext(CONSTANTS))
    assert value == {"k": [(1, 2), {"var": "not a node"}]}


def test_generated_cases_follow_the_domain():
    cases = generated_cases(GENERATE, "public", CaseIdentity("hw", "q", "c", "alice"), CONSTANTS)
    assert [c.id for c in cases] == [f"random-{i}" for i in range(1, 6)]
    for case in cases:
        image, kernel, stride, width = case.args
        h, k, s = case.variables["H"], case.variables["K"], case.variables["S"]
        assert image.shape == (h, h + 1) and kernel == (k, k) and stride == s
        assert k <= h and width == (h - k) // s + 1
        assert case.categories == (("stride > 1",) if s > 1 else ())


def test_public_cases_are_the_same_for_every_student():
    alice = generated_cases(GENERATE, "public", CaseIdentity("hw", "q", "c", "alice"), CONSTANTS)
    bob = generated_cases(GENERATE, "public", CaseIdentity("hw", "q", "c", "bob", salt="s"), CONSTANTS)
    assert [c.seed for c in alice] == [c.seed for c in bob]
    assert all(np.array_equal(a.args[0], b.args[0]) for a, b in zip(alice, bob))


def test_hidden_cases_depend_on_student_and_salt_and_are_reproducible():
    def seeds(student, salt):
        return [c.seed for c in generated_cases(GENERATE, "hidden", CaseIdentity("hw", "q", "c", student, salt), CONSTANTS)]

    assert seeds("alice", "s1") == seeds("alice", "s1")
    assert seeds("alice", "s1") != seeds("bob", "s1")
    assert seeds("alice", "s1") != seeds("alice", "s2")


@pytest.mark.parametrize(
    "node, message",
    [
        ({"const": "Z"}, "unknown constant 'Z'"),
        ({"var": "Q"}, "unknown variable 'Q'"),
        ({"array": [2, 2], "values": {"uniform": [0, 1]}}, "only allowed in generated cases"),
        ({"array": "2x2"}, "list of dimensions"),
        ({"call": "conv2d"}, "only allowed in expected values"),
        ({"expr": "__import__('os')"}, "not allowed"),
    ],
)
def test_bad_nodes_say_what_is_wrong(node, message):
    with pytest.raises(CaseError) as caught:
        evaluate(node, NodeContext(CONSTANTS))
    assert message in caught.value.message
