"""One script per server under test (``serve_<name>.py``), each serving a ``PVSet``, and the
launcher that runs them as child processes."""
