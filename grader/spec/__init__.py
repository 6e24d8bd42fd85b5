"""Assignment specs: YAML files validated into typed models (see docs/spec-format.md)."""

from grader.spec.loader import AssignmentSpec, QuestionSpec, SpecError, SpecProblem, load_assignment

__all__ = ["AssignmentSpec", "QuestionSpec", "SpecError", "SpecProblem", "load_assignment"]
