"""Layer 5 (show): figures and HTML reports for run folders."""

from neurodyn.report.html import compare_runs, reference_summary, write_run_report

__all__ = ["compare_runs", "reference_summary", "write_run_report"]
