"""Test harness: real MTA-STS clients against local DNS and HTTPS servers on 127.0.0.1.

Use the ``mta_sts_world`` fixture (tests/conftest.py); see world.py for the API.
"""

from .https_server import Response
from .local_tree import LocalTree, read_local_tree
from .sts_client import CheckdmarcResult, ClientTarget, StsClientResult
from .world import MtaStsWorld

__all__ = [
    "CheckdmarcResult",
    "ClientTarget",
    "LocalTree",
    "MtaStsWorld",
    "Response",
    "StsClientResult",
    "read_local_tree",
]
