"""Stageflow's HTTP layer: a thin Flask app over `engine`."""
