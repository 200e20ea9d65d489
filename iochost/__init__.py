"""iochost: many Python EPICS IOCs in one host process behind one Channel Access server."""
__version__ = "0.1.0"
