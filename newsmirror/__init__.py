"""newsmirror: keep news readable where it is blocked.

Library first: :func:`newsmirror.pipeline.run_once` does one incremental pass; the CLI is a thin shell.
"""

__version__ = "0.1.0"
