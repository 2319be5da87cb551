"""`cinecluster report`: plots, report.md and a self-contained report.html of the active model."""
