"""The one place Stageflow touches SpiffWorkflow: parser flavour, script engine, runtime and serializer."""

from . import speedups  # noqa: F401  (installs itself)
from .parser import CompiledProcess, Document, compile_process
from .runtime import SERIALIZER_VERSION, Run, Step, WaitingEvent, WaitingTask, WaitingTimer
from .timerhold import held as timers_held

__all__ = [
    "SERIALIZER_VERSION",
    "CompiledProcess",
    "Document",
    "Run",
    "Step",
    "WaitingEvent",
    "WaitingTask",
    "WaitingTimer",
    "compile_process",
    "timers_held",
]
