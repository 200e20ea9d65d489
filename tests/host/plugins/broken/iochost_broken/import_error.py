"""Fails at import, like a plugin whose dependency is missing."""
import iochost_dependency_that_is_not_installed  # noqa: F401 - the point of this module
