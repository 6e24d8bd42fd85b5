"""The one lock every use of Python's AST in the grader's process holds.

CPython 3.11 keeps the AST converter's recursion depth in interpreter-wide state: two threads
making or reading an AST at once (``ast.parse``, ``compile()`` of a tree, ``ast.literal_eval``)
can make either fail with "SystemError: AST constructor recursion depth mismatch"
(python/cpython#106905). A batch on threads would then fail one student's static check because
another student's source was being parsed at the same moment. (``np.load`` parses .npy headers
with ``ast.literal_eval``: the grader reads .npy bytes with ``protocol.npy_array`` instead.)
"""

from __future__ import annotations

import ast
import threading

__all__ = ["AST_LOCK", "parse_python"]

AST_LOCK = threading.Lock()


def parse_python(source: str, filename: str = "<unknown>", mode: str = "exec") -> ast.AST:
    """``ast.parse`` under the lock (same arguments, same errors)."""
    with AST_LOCK:
        return ast.parse(source, filename=filename, mode=mode)
