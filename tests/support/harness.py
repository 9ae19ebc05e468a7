"""Tests use the same mock runner as scripts/render (lab.mockrun)."""

from lab.mockrun import ROOT, LabMocks, ProgramRun, RecordingMonitor, Registered, run, run_main

__all__ = ["ROOT", "LabMocks", "ProgramRun", "RecordingMonitor", "Registered", "run", "run_main"]
