"""Experiments: one run to files, sweeps, analysis, calibration, benchmark and the command line."""
