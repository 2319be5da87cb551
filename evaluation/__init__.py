"""Offline evaluation: temporal holdout split, ranking metrics and the `cinecluster evaluate` run."""
