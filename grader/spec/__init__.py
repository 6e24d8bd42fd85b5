"""Assignment specs: YAML files validated into typed models (see docs/spec-format.md).

The loader is imported lazily: grader.cases needs grader.spec.model, and the loader needs
grader.cases.
"""

from __future__ import annotations

from typing import Any

__all__ = ["AssignmentSpec", "QuestionSpec", "SpecError", "SpecProblem", "load_assignment"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from grader.spec import loader

        return getattr(loader, name)
    raise AttributeError(f"module 'grader.spec' has no attribute {name!r}")
