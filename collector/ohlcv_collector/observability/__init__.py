"""Logs, metrics and the probe endpoints of a collector process."""
