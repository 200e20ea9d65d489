"""Example IOCs for iochost (a plugin distribution)."""
