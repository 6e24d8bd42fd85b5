"""Where student code runs: the probe (which layers work here) and the launch (how a worker starts).

    from grader.sandbox import probe
    report = probe()            # cached per process
    report.mode                 # "bwrap+uid", "bwrap" or "none"
    report.protected            # False: a plain subprocess, not a security boundary

The executor (grader/executor/subprocess_executor.py) asks ``isolation_for(python)`` for the
strongest isolation that works here and starts every worker through it. See launch.py for what
one sandboxed worker sees and why each choice was made, probe.py for how the layers are found.
"""

from .launch import (
    BwrapIsolation,
    Isolation,
    Launch,
    PlainIsolation,
    RuntimeLayout,
    SandboxUnavailable,
    runtime_layout,
)
from .probe import Layer, ProbeReport, isolation_for, probe

__all__ = [
    "BwrapIsolation",
    "Isolation",
    "Launch",
    "Layer",
    "PlainIsolation",
    "ProbeReport",
    "RuntimeLayout",
    "SandboxUnavailable",
    "isolation_for",
    "probe",
    "runtime_layout",
]
