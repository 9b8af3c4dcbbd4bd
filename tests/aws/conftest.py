"""AWS fixtures for tests/aws: defined in `aws_fixtures.py` (shared with the contract suite).

Every test gets a reset moto (empty account) behind the fault proxy, dummy credentials,
Route53 pacing raised to keep tests fast, ACM certificates issued at their first poll, and
a zeroed API-call counter: see `aws_fixtures.aws`.
"""

from __future__ import annotations

from aws_fixtures import ACCESS_KEY, SECRET_KEY, aws, fault_proxy, fault_proxy_server, moto_url

__all__ = ["ACCESS_KEY", "SECRET_KEY", "aws", "fault_proxy", "fault_proxy_server", "moto_url"]
