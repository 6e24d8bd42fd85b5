"""The comparison engine: one entry point, one checker per answer kind."""

from grader.checkers.engine import compare

__all__ = ["compare"]
