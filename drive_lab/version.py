"""The package version and the results-schema version (what a stored result means).

``__version__`` changes with every release; ``RESULTS_SCHEMA`` changes only when a stored
result would mean something different for the same configuration (open_lth's rule), so a
new release does not orphan the runs already stored (see ``RunConfig.key``).
"""
__version__ = "0.1.0"

RESULTS_SCHEMA = 1
