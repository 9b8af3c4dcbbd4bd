"""One boto3 session per provider, its clients, and the API-call counter.

Credentials come from boto3's standard chain only (environment, profile, SSO, instance
role); nothing secret is ever in the spec or a saved plan. The session is built on first
use, not when the provider is constructed, so `mtasts validate` needs no credentials.
Endpoints: boto3 honours `AWS_ENDPOINT_URL` (and `AWS_ENDPOINT_URL_<SERVICE>`), which is
how tests aim it at moto's server; the provider has no endpoint setting of its own.

Retries: botocore's `adaptive` mode (client-side token bucket that backs off on throttling)
with a generous `total_max_attempts`. `standard` mode was seen to exhaust its per-client
retry quota within one concurrent 100-zone plan; adaptive plus Route53 pacing
(`provisioner.pacing`, shared per account) does not. 5xx answers are retried by the same
machinery; silence (a timeout, a refused connection) is not retried past
`calls.SILENT_ATTEMPTS`, and every call is held to the run's deadline (`calls.CallGuard`).
Timeouts, rates and the worker count are validated knobs (`provisioner.knobs`, and
`tuning.py` for AWS's own waits), all read before the first request.

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

from providers.aws.calls import CallGuard, Timeouts
from providers.aws.errors import NO_CREDENTIALS, describe
from providers.aws.tuning import AWS_KNOBS
from provisioner import apicalls
from provisioner.errors import ProviderError
from provisioner.knobs import WORKERS, KnobError, Rate
from provisioner.pacing import ROUTE53, shared_pacer

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
        apicalls.record("aws " + key[0])  # for -v

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

JITTER_MARGIN = 0.1
"""Seconds added to Route53's pacing window. AWS counts requests as they ARRIVE; requests
that leave exactly a window apart can arrive closer together (the first one delayed by a
TLS handshake or a slow pooled connection, the next not), and six in a second is a
`Throttling` answer whose retry backs off, and makes botocore's adaptive mode slow the whole
client down, for far longer than the 0.1 s kept here. The cost is pacing at 5 in 1.1 s
(about 4.5 a second) instead of 5: about 10% on the floor of a large run. The margin was in
the provider's own limiter from the start; keeping it through the quota keeps it measured
by the same sliding window as everything else."""

ACM_READS = Rate(10, 1.0)
"""ACM's documented quota for reads (DescribeCertificate, ListCertificates...): 10 a second."""
ACM_REQUESTS = Rate(5, 1.0)
"""ACM's documented quota for RequestCertificate: 5 a second."""


def pacing(route53: Rate) -> dict[str, tuple[tuple[str, str, Rate], ...]]:
    """Per service: (botocore event, pacer name, quota). Route53's quota is the configured
    one (`MTASTS_AWS_ROUTE53_RPS`) with the jitter margin added to its window; ACM's are
    fixed, so a 1,000-domain apply requests and polls certificates without being throttled.
    `before-send` fires once per HTTP attempt, so retries are paced too."""
    return {
        "route53": (
            (
                "before-send.route-53",
                "route53",
                Rate(route53.requests, route53.seconds + JITTER_MARGIN),
            ),
        ),
        "acm": (
            ("before-send.acm", "acm", ACM_READS),
            ("before-send.acm.RequestCertificate", "acm-request", ACM_REQUESTS),
        ),
    }


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
        self.timeouts: Timeouts | None = None
        self.route53_quota: Rate | None = None
        self.workers = 1
        self.guard: CallGuard | None = None

    def _read_knobs(self) -> tuple[Timeouts, Rate, int]:
        """Every knob the provider uses, validated; a bad one is a ProviderError naming it."""
        try:
            for knob in AWS_KNOBS:
                knob.read()
            return Timeouts.read_knobs(), ROUTE53.read(), WORKERS.read()
        except KnobError as exc:
            raise ProviderError(f"{self.provider}: {exc}") from None

    def _ready_session(self) -> boto3.session.Session:
        if self._session is None:
            timeouts, quota, workers = self._read_knobs()
            session = boto3.session.Session()
            try:
                credentials = session.get_credentials()
                if credentials is not None:
                    check_credentials(self.provider, credentials)
            except BotoCoreError as exc:
                raise ProviderError(f"{self.provider}: {describe(exc)}") from None
            if credentials is None:
                raise ProviderError(f"{self.provider}: {NO_CREDENTIALS}")
            guard = CallGuard(self.provider, timeouts)
            session.events.register("before-call", API_CALLS.on_call)
            session.events.register("before-call", guard.before_call)
            session.events.register("before-send", API_CALLS.on_send)
            session.events.register_first("needs-retry", guard.needs_retry)
            self.timeouts, self.route53_quota, self.workers = timeouts, quota, workers
            self.guard, self._session = guard, session
        return self._session

    def _client(self, service: str, region: str) -> Any:
        with self._lock:
            client = self._clients.get(service)
            if client is not None:
                return client
            session = self._ready_session()
            assert self.timeouts is not None and self.route53_quota is not None
            config = Config(
                retries={"mode": "adaptive", "total_max_attempts": TOTAL_MAX_ATTEMPTS},
                max_pool_connections=self.workers * 2,  # the pool (`each`) and waits beside it
                connect_timeout=self.timeouts.connect,
                read_timeout=self.timeouts.read,
            )
            try:
                client = session.client(service, region_name=region, config=config)
            except ValueError as exc:  # botocore: "Invalid endpoint: ..."
                raise ProviderError(
                    f"{self.provider}: the endpoint for {service} is not a valid URL "
                    f"(AWS_ENDPOINT_URL?): {exc}"
                ) from None
            access_key = session.get_credentials().access_key or "anonymous"
            for event, key, quota in pacing(self.route53_quota).get(service, ()):
                pacer = shared_pacer(access_key, key, quota)
                client.meta.events.register(event, pacer.before_send)
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
