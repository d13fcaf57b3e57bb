"""Benchmarks of the collector against the replay exchange; each script prints one JSON object."""
