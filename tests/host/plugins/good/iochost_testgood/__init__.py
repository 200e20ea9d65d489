"""A well-behaved third-party iochost plugin used by the host's tests."""
