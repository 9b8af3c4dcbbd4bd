"""mtasts: declarative MTA-STS and TLS-RPT provisioning (plan, then apply)."""

__version__ = "0.1.0"
