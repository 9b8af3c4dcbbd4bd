"""One boto3 session per provider, its clients, and the API-call counter.

Credentials come from boto3's standard chain only (environment, profile, SSO, instance
role); nothing secret is ever in the spec or a saved plan. The session is built on first
use, not when the provider is constructed, so `mtasts validate` needs no credentials.
Endpoints: boto3 honours `AWS_ENDPOINT_URL` (and `AWS_ENDPOINT_URL_<SERVICE>`), which is
how tests aim it at moto's server; the provider has no endpoint setting of its own.

Retries: botocore's `adaptive` mode (client-side token bucket that backs off on throttling)
with a generous `total_max_attempts`. `standard` mode was seen to exhaust its per-client
retry quota within one concurrent 100-zone plan; adaptive plus Route53 pacing
(`ratelimit.py`) does not. 5xx answers are retried by the same machinery; silence (a
timeout, a refused connection) is not retried past `calls.SILENT_ATTEMPTS`, and every call
is held to the run's deadline (`calls.CallGuard`). Timeouts and rates are validated knobs
(`tuning.py`), read before the first request.

Credentials are checked for characters no header can carry (`check_credentials`) before
anything is signed, so a CRLF `.env` file is named, never echoed.

Regions: Route53, CloudFront and the certificates CloudFront uses (ACM) live in us-east-1
whatever `region` says; only the bucket is regional.

Call counting: every session registers `before-call` (one per API call) and `before-send`
(one per HTTP attempt, retries included) hooks that feed `API_CALLS`, a process-wide
counter the tests and `benchmarks/aws_scale.py` read. It costs a dict increment per call.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import BotoCoreError

from providers.aws.calls import CallGuard
from providers.aws.concurrency import MAX_WORKERS
from providers.aws.errors import NO_CREDENTIALS, describe
from providers.aws.ratelimit import shared_limiter
from providers.aws.tuning import Tuning
from provisioner.errors import ProviderError

GLOBAL_REGION = "us-east-1"
"""Route53, CloudFront, and ACM for CloudFront: always us-east-1."""

TOTAL_MAX_ATTEMPTS = 12


@dataclass
class ApiCalls:
    """Counts of (service, operation): logical calls and HTTP attempts, plus the call order."""

    calls: Counter[tuple[str, str]] = field(default_factory=Counter)
    attempts: Counter[tuple[str, str]] = field(default_factory=Counter)
    log: list[tuple[str, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.attempts.clear()
            self.log.clear()

    def on_call(self, event_name: str, **_: Any) -> None:
        key = _service_operation(event_name)
        with self._lock:
            self.calls[key] += 1
            self.log.append(key)

    def on_send(self, event_name: str, **_: Any) -> None:
        key = _service_operation(event_name)
        with self._lock:
            self.attempts[key] += 1

    def count(self, service: str, operation: str | None = None) -> int:
        with self._lock:
            return sum(
                n
                for (s, o), n in self.calls.items()
                if s == service and (operation is None or o == operation)
            )


def _service_operation(event_name: str) -> tuple[str, str]:
    # "before-call.route-53.ListResourceRecordSets" -> ("route53", "ListResourceRecordSets")
    parts = event_name.split(".")
    service = parts[1].replace("-", "") if len(parts) > 1 else "?"
    return service, parts[2] if len(parts) > 2 else "?"


API_CALLS = ApiCalls()

_PACING: dict[str, tuple[tuple[str, str, float | None], ...]] = {
    "route53": (("before-send.route-53", "route53", None),),
    "acm": (
        ("before-send.acm", "acm", 10.0),
        ("before-send.acm.RequestCertificate", "acm-request", 5.0),
    ),
}
"""Client-side pacing per service: Route53's 5 requests a second per account (None: the
configurable rate), and ACM's documented quotas (10/s for reads, 5/s for RequestCertificate),
so a 1,000-domain apply requests and polls certificates without being throttled."""


_CREDENTIAL_PARTS = (
    ("access_key", "AWS_ACCESS_KEY_ID", "access key id"),
    ("secret_key", "AWS_SECRET_ACCESS_KEY", "secret access key"),
    ("token", "AWS_SESSION_TOKEN", "session token"),
)


def check_credentials(provider: str, credentials: Credentials) -> None:
    """Refuse, naming the part and never showing it, a credential no HTTP header can carry.

    A `.env` file saved with CRLF line ends leaves a `\\r` at the end of each value; botocore
    would put it in a header and the HTTP client's refusal quotes the whole header, i.e. the
    session token, into the error. Checked once, before anything is signed.
    """
    frozen = credentials.get_frozen_credentials()
    from_env = credentials.method == "env"
    for attribute, variable, words in _CREDENTIAL_PARTS:
        value = getattr(frozen, attribute) or ""
        problem = _header_problem(value)
        if problem:
            name = variable if from_env else f"the {words} (from {credentials.method})"
            hint = " (a CRLF .env file?)" if "\r" in value or "\n" in value else ""
            raise ProviderError(f"{provider}: {name} holds {problem}{hint}; fix it and run again")


def _header_problem(value: str) -> str:
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return "a control character"
    if " " in value:
        return "a space"
    if not value.isascii():
        return "a non-ASCII character"
    return ""


class AwsClients:
    """Lazily built clients sharing one session, its credentials, its hooks and its limits."""

    def __init__(self, provider: str, region: str) -> None:
        self.provider = provider
        self.region = region
        self._lock = threading.Lock()
        self._session: boto3.session.Session | None = None
        self._clients: dict[str, Any] = {}
        self.tuning: Tuning | None = None
        self.guard: CallGuard | None = None

    def _ready_session(self) -> boto3.session.Session:
        if self._session is None:
            tuning = Tuning.read(self.provider)
            session = boto3.session.Session()
            try:
                credentials = session.get_credentials()
                if credentials is not None:
                    check_credentials(self.provider, credentials)
            except BotoCoreError as exc:
                raise ProviderError(f"{self.provider}: {describe(exc)}") from None
            if credentials is None:
                raise ProviderError(f"{self.provider}: {NO_CREDENTIALS}")
            guard = CallGuard(self.provider, tuning)
            session.events.register("before-call", API_CALLS.on_call)
            session.events.register("before-call", guard.before_call)
            session.events.register("before-send", API_CALLS.on_send)
            session.events.register_first("needs-retry", guard.needs_retry)
            self.tuning, self.guard, self._session = tuning, guard, session
        return self._session

    def _client(self, service: str, region: str) -> Any:
        with self._lock:
            client = self._clients.get(service)
            if client is not None:
                return client
            session = self._ready_session()
            assert self.tuning is not None
            config = Config(
                retries={"mode": "adaptive", "total_max_attempts": TOTAL_MAX_ATTEMPTS},
                max_pool_connections=MAX_WORKERS * 2,
                connect_timeout=self.tuning.connect_timeout,
                read_timeout=self.tuning.read_timeout,
            )
            try:
                client = session.client(service, region_name=region, config=config)
            except ValueError as exc:  # botocore: "Invalid endpoint: ..."
                raise ProviderError(
                    f"{self.provider}: the endpoint for {service} is not a valid URL "
                    f"(AWS_ENDPOINT_URL?): {exc}"
                ) from None
            access_key = session.get_credentials().access_key or "anonymous"
            for event, key, rate in _PACING.get(service, ()):
                limiter = shared_limiter(access_key, key, rate or self.tuning.route53_rps)
                client.meta.events.register(event, limiter.before_send)
            self._clients[service] = client
            return client

    @property
    def route53(self) -> Any:
        return self._client("route53", GLOBAL_REGION)

    @property
    def acm(self) -> Any:
        return self._client("acm", GLOBAL_REGION)

    @property
    def cloudfront(self) -> Any:
        return self._client("cloudfront", GLOBAL_REGION)

    @property
    def s3(self) -> Any:
        return self._client("s3", self.region)

    @property
    def sts(self) -> Any:
        return self._client("sts", self.region)
