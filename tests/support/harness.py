"""Tests use the same mock runner as scripts/render (tools.mockrun)."""

from tools.mockrun import ROOT, LabMocks, ProgramRun, RecordingMonitor, Registered, run, run_main

__all__ = ["ROOT", "LabMocks", "ProgramRun", "RecordingMonitor", "Registered", "run", "run_main"]
