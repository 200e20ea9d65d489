"""Deliberately broken iochost plugins: one failure mode per module."""
