"""Probes over neurons: design matrices, the elastic-net estimator and its solvers, rankings, retraining and control tasks."""
