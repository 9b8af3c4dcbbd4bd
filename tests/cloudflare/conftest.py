"""Fixtures for the Cloudflare provider, defined in `cf_fixtures.py` so that other suites
(the provider contract suite) can import them too."""

from cf_fixtures import cf_api, cf_provider_settings, cf_server, miniflare  # noqa: F401
