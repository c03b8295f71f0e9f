"""The Mesa model, its parameters, scenarios and metrics."""
