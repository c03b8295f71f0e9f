"""Sweep runner: designs, seeds, backends, storage, resume."""
