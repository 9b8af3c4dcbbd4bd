"""Certificate Manager: per policy host a DNS authorization, a Google-managed certificate and
an entry in the one certificate map the load balancer's proxy presents.

Why Certificate Manager and DNS authorization: a map holds thousands of entries, where
classic Google-managed SSL certificates stop near 1,500 names per proxy; and a DNS-authorized
certificate is issued before any traffic reaches the load balancer, so a new domain never
serves a self-signed or missing certificate
(https://cloud.google.com/certificate-manager/docs/dns-authorizations).

Names: `<prefix>-auth-<h>`, `<prefix>-cert-<h>`, `<prefix>-entry-<h>` where `<h>` is 16 hex
digits of SHA-256 of the host (ids are at most 63 characters, hosts up to 253), and the map
`<prefix>-lb-certs`. Only ids of exactly that shape are mtasts's: the fixed word after the
prefix and the hex tail keep another deployment's prefix (`mtasts-b` beside `mtasts`) from
ever matching. The host a resource is for is read from the resource itself (the
authorization's `domain`, the certificate's `managed.domains`, the entry's `hostname`).

Calls are paced to the API's quota (300 requests a minute per project:
https://cloud.google.com/certificate-manager/docs/quotas) by the shared pacer, bounded by
`timeout=request_timeout()`, retried on 429/5xx by `providers.gcp.transient`. Operations are
polled with `get_operation` (a bounded GET), not `.result()`, which bounds no single poll.
Reads are bulk: one listing (pages of 1,000) per kind, whatever the number of domains.

Creating many (`create_all`): every create of one kind is sent side by side, then awaited
together with ONE listing of that kind a round (pauses growing from 0.5 s): a resource the
listing shows exists, whatever its operation says, and the listing also carries what the
next step needs (an authorization's CNAME, a certificate's state). Only a resource the
listing does not show yet has its own operation read, so an operation that ended in error
still stops the run with its message. Per host that is one call (the create) instead of
two (create, then polls of its operation): an apply from empty costs three Certificate
Manager calls a domain, not six.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from google.api_core import exceptions as google_exceptions
from google.cloud import certificate_manager_v1 as cm

from providers.gcp.clients import client_options, credentials_for, request_timeout
from providers.gcp.errors import reported
from providers.gcp.transient import retried
from provisioner import knobs
from provisioner.concurrency import each
from provisioner.errors import ProviderError
from provisioner.pacing import CERTIFICATE_MANAGER, shared_pacer
from provisioner.polling import Wait, WaitTimedOut, poll

CERT_TIMEOUT = knobs.seconds("MTASTS_GCP_CERT_TIMEOUT", 3_600.0)
"""Seconds apply waits for new certificates to be ACTIVE: Google says issuance after the
authorization CNAME resolves takes minutes, occasionally an hour or more."""
OPERATION_TIMEOUT = knobs.seconds("MTASTS_GCP_CM_OPERATION_TIMEOUT", 300.0, 7_200.0)
"""Seconds a Certificate Manager operation (create/delete) may take to be done."""
PAGE = 1_000
"""The largest page the list methods accept."""
KINDS = ("auth", "cert", "entry")


def digest(host: str) -> str:
    return hashlib.sha256(host.encode()).hexdigest()[:16]


KIND_NOUNS = {"auth": "DNS authorization", "cert": "certificate", "entry": "certificate map entry"}


@dataclass(frozen=True)
class Creation:
    """One resource to create: the domain (for error lines), its policy host, the request."""

    domain: str
    host: str
    request: dict[str, Any]


@dataclass(frozen=True)
class Authorization:
    name: str
    host: str
    record_name: str
    """`_acme-challenge.mta-sts.example.com.`: absolute."""
    record_data: str


@dataclass(frozen=True)
class Certificate:
    name: str
    host: str
    state: str
    """PROVISIONING, ACTIVE, FAILED (Certificate.ManagedCertificate.State)."""
    authorizations: tuple[str, ...]
    issue: str = ""


@dataclass(frozen=True)
class MapEntry:
    name: str
    host: str
    certificates: tuple[str, ...]
    state: str


class CertificateManager:
    def __init__(
        self,
        provider: str,
        project: str,
        prefix: str,
        endpoint: str | None,
        sleep: Callable[[float], None],
    ) -> None:
        self.provider = provider
        self.project = project
        self.prefix = prefix
        self.sleep = sleep
        self.parent = f"projects/{project}/locations/global"
        self.map_id = f"{prefix}-lb-certs"
        self.map_name = f"{self.parent}/certificateMaps/{self.map_id}"
        self._ours = re.compile(rf"{re.escape(prefix)}-({'|'.join(KINDS)})-[0-9a-f]{{16}}")
        self._endpoint = endpoint
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            with reported(self.provider, None, "connecting to the Certificate Manager API"):
                self._client = cm.CertificateManagerClient(
                    transport="rest",
                    client_options=client_options(self._endpoint),
                    credentials=credentials_for(self._endpoint),
                )
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.transport.close()
            self._client = None

    def rid(self, kind: str, host: str) -> str:
        return f"{self.prefix}-{kind}-{digest(host)}"

    def map_reference(self) -> str:
        """The map as a target HTTPS proxy names it."""
        return f"//certificatemanager.googleapis.com/{self.map_name}"

    def is_ours(self, name: str) -> bool:
        return self._ours.fullmatch(name.rsplit("/", 1)[-1]) is not None

    # Calls: paced, bounded, retried

    def _send(self, doing: str, call: Callable[[], Any]) -> Any:
        pacer = shared_pacer(self.project, "certificatemanager", CERTIFICATE_MANAGER.read())

        def once() -> Any:
            pacer.acquire()
            return call()

        return retried(doing, once, self.sleep)

    def _list(self, doing: str, method: str, parent: str) -> list[Any]:
        rpc = getattr(self.client, method)
        pacer = shared_pacer(self.project, "certificatemanager", CERTIFICATE_MANAGER.read())
        field_name = method.removeprefix("list_")

        def listing() -> list[Any]:
            found: list[Any] = []
            pager = rpc(
                request={"parent": parent, "page_size": PAGE},
                retry=None,
                timeout=request_timeout(),
            )
            for page in pager.pages:
                found.extend(getattr(page, field_name))
                if page.next_page_token:
                    pacer.acquire()  # the pager asks for the next page: one more request
            return found

        with reported(self.provider, None, doing):
            return list(self._send(doing, listing))

    # Reads

    def authorizations(self) -> dict[str, Authorization]:
        found: dict[str, Authorization] = {}
        for item in self._list(
            "listing DNS authorizations", "list_dns_authorizations", self.parent
        ):
            if self.is_ours(item.name):
                found[item.domain] = _authorization(item)
        return found

    def certificates(self) -> dict[str, Certificate]:
        found: dict[str, Certificate] = {}
        for item in self._list("listing certificates", "list_certificates", self.parent):
            if self.is_ours(item.name) and item.managed.domains:
                cert = _certificate(item)
                found[cert.host] = cert
        return found

    def entries(self) -> dict[str, MapEntry] | None:
        """host -> entry of mtasts's map; None when the map does not exist.

        A map of mtasts's name whose description lacks mtasts's mark was made by someone
        else: the read stops in one line rather than add entries to it and delete it with
        the last domain (one get per plan, as the load balancer's pieces are checked).
        """
        doing = "reading certificate map"
        try:
            with reported(self.provider, None, doing):
                found = self._send(
                    doing,
                    lambda: self.client.get_certificate_map(
                        request={"name": self.map_name}, retry=None, timeout=request_timeout()
                    ),
                )
        except ProviderError as exc:
            if isinstance(exc.__context__, google_exceptions.NotFound):
                return None
            raise
        if not (found.description or "").startswith("mtasts"):
            raise ProviderError(
                f"{self.provider}: certificate map {self.map_id} in {self.project} was not "
                f"created by mtasts (description {(found.description or '')[:80]!r}); mtasts "
                "never takes over another's resource: set name_prefix to a prefix of its own"
            )
        try:
            items = self._list(
                "listing certificate map entries", "list_certificate_map_entries", self.map_name
            )
        except ProviderError as exc:
            if isinstance(exc.__context__, google_exceptions.NotFound):
                return None
            raise
        return {
            item.hostname: MapEntry(
                item.name, item.hostname, tuple(item.certificates), item.state.name
            )
            for item in items
            if self.is_ours(item.name) and item.hostname
        }

    # Writes: each awaits its operation

    def _start(self, doing: str, domain: str | None, method: str, request: dict[str, Any]) -> Any:
        """Send one create; its operation as answered, or None when the resource exists."""
        rpc = getattr(self.client, method)
        with reported(self.provider, domain, doing):
            try:
                lro = self._send(
                    doing, lambda: rpc(request=request, retry=None, timeout=request_timeout())
                )
            except google_exceptions.Conflict:
                return None
        return lro.operation

    def _create(self, doing: str, domain: str | None, method: str, request: dict[str, Any]) -> Any:
        """Create and await; the done operation, or None when the resource already existed."""
        answered = self._start(doing, domain, method, request)
        if answered is None:
            return None
        with reported(self.provider, domain, doing):
            return self._settle(doing, domain, answered)

    def _settle(self, doing: str, domain: str | None, answered: Any) -> Any:
        """The operation done: as answered when it already is (never polled), else awaited."""
        if answered.done:
            if answered.HasField("error"):
                where = f"{self.provider}: {domain}: " if domain else f"{self.provider}: "
                message = " ".join(answered.error.message.split())
                raise ProviderError(f"{where}{doing} failed: {message}")
            return answered
        return self._await(doing, domain, answered.name)

    def _operation(self, doing: str, domain: str | None, name: str) -> Any:
        """The operation when done (ProviderError when it ended in error); None while not."""
        op = self._send(
            doing,
            lambda: self.client.get_operation(
                request={"name": name}, retry=None, timeout=request_timeout()
            ),
        )
        if not op.done:
            return None
        if op.HasField("error"):
            where = f"{self.provider}: {domain}: " if domain else f"{self.provider}: "
            message = " ".join(op.error.message.split())
            raise ProviderError(f"{where}{doing} failed: {message}")
        return op

    def _await(self, doing: str, domain: str | None, name: str) -> Any:
        return poll(
            f"{self.provider}: {domain or 'endpoint'}: {doing} (operation done)",
            lambda: self._operation(doing, domain, name),
            Wait(OPERATION_TIMEOUT.read(), 0.5, 10.0),
            sleep=self.sleep,
        )

    def _create_all(
        self,
        kind: str,
        method: str,
        listing: Callable[[], Mapping[str, Any] | None],
        creations: Sequence[Creation],
    ) -> dict[str, Any]:
        """Send every creation side by side, then await them all by listing `kind`.

        Returns host -> the resource as listed. Round one trusts the listing alone (a
        resource created minutes ago by a paced batch is long done); from round two on,
        each host still unlisted has its operation read, so one that failed stops the wait
        with Google's message instead of running into the timeout.
        """
        if not creations:
            return {}
        noun = KIND_NOUNS[kind]

        def start(creation: Creation) -> str | None:
            """The operation's name; None when the resource existed or is already created."""
            doing = f"creating {noun} {self.rid(kind, creation.host)}"
            answered = self._start(doing, creation.domain, method, creation.request)
            if answered is None:
                return None
            if answered.done:  # created in the answer itself: listed at once, never polled
                self._settle(doing, creation.domain, answered)  # raises when it failed
                return None
            return str(answered.name)

        started = each(start, creations)
        waiting = {c.host: (c, op) for c, op in zip(creations, started, strict=True)}
        found: dict[str, Any] = {}
        rounds = [0]

        def check() -> bool | None:
            rounds[0] += 1
            listed = listing() or {}
            for host, (creation, op) in sorted(waiting.items()):
                item = listed.get(host)
                if item is not None and item.name == self.resource_name(kind, host):
                    found[host] = item
                    del waiting[host]
                elif op is not None and rounds[0] > 1:
                    doing = f"creating {noun} {self.rid(kind, host)}"
                    with reported(self.provider, creation.domain, doing):
                        self._operation(doing, creation.domain, op)
            return True if not waiting else None

        try:
            poll(
                f"{self.provider}: {noun}s listed",
                check,
                Wait(OPERATION_TIMEOUT.read(), 0.5, 10.0),
                sleep=self.sleep,
            )
        except WaitTimedOut:
            host, (creation, _) = min(waiting.items(), key=lambda item: item[1][0].domain)
            more = f" (and {len(waiting) - 1} more)" if len(waiting) > 1 else ""
            raise ProviderError(
                f"{self.provider}: {creation.domain}{more}: the new {noun} for {host} was not "
                f"listed within {OPERATION_TIMEOUT.read():g} s "
                f"({OPERATION_TIMEOUT.env}); run apply again to continue"
            ) from None
        return found

    def resource_name(self, kind: str, host: str) -> str:
        """The full name mtasts gives the `kind` resource of `host`."""
        rid = self.rid(kind, host)
        if kind == "entry":
            return f"{self.map_name}/certificateMapEntries/{rid}"
        collection = {"auth": "dnsAuthorizations", "cert": "certificates"}[kind]
        return f"{self.parent}/{collection}/{rid}"

    def ensure_map(self) -> None:
        self._create(
            f"creating certificate map {self.map_id}",
            None,
            "create_certificate_map",
            {
                "parent": self.parent,
                "certificate_map_id": self.map_id,
                "certificate_map": {"description": "mtasts: MTA-STS policy hosts"},
            },
        )

    # Creating many: one create each, awaited together by listing

    def authorize_all(self, hosts: Sequence[tuple[str, str]]) -> dict[str, Authorization]:
        """A DNS authorization for each (domain, host); host -> it, CNAME included."""
        creations = [
            Creation(
                domain,
                host,
                {
                    "parent": self.parent,
                    "dns_authorization_id": self.rid("auth", host),
                    "dns_authorization": {"domain": host, "description": "mtasts"},
                },
            )
            for domain, host in hosts
        ]
        return self._create_all("auth", "create_dns_authorization", self.authorizations, creations)

    def certify_all(self, hosts: Sequence[tuple[str, str, str]]) -> dict[str, Certificate]:
        """A Google-managed certificate for each (domain, host, authorization name)."""
        creations = [
            Creation(
                domain,
                host,
                {
                    "parent": self.parent,
                    "certificate_id": self.rid("cert", host),
                    "certificate": {
                        "description": "mtasts",
                        "managed": {"domains": [host], "dns_authorizations": [authorization]},
                    },
                },
            )
            for domain, host, authorization in hosts
        ]
        return self._create_all("cert", "create_certificate", self.certificates, creations)

    def map_all(self, hosts: Sequence[tuple[str, str, str]]) -> dict[str, MapEntry]:
        """A map entry for each (domain, host, certificate name)."""
        creations = [
            Creation(
                domain,
                host,
                {
                    "parent": self.map_name,
                    "certificate_map_entry_id": self.rid("entry", host),
                    "certificate_map_entry": {
                        "description": "mtasts",
                        "hostname": host,
                        "certificates": [certificate],
                    },
                },
            )
            for domain, host, certificate in hosts
        ]
        return self._create_all("entry", "create_certificate_map_entry", self.entries, creations)

    def delete(self, domain: str | None, name: str) -> None:
        """Delete one resource (an id of ours) and await it; gone already is fine."""
        kind = name.split("/")[-2]
        method = {
            "dnsAuthorizations": "delete_dns_authorization",
            "certificates": "delete_certificate",
            "certificateMapEntries": "delete_certificate_map_entry",
            "certificateMaps": "delete_certificate_map",
        }[kind]
        rpc = getattr(self.client, method)
        doing = f"deleting {name.rsplit('/', 1)[-1]}"
        with reported(self.provider, domain, doing):
            try:
                lro = self._send(
                    doing, lambda: rpc(name=name, retry=None, timeout=request_timeout())
                )
            except google_exceptions.NotFound:
                return
            self._settle(doing, domain, lro.operation)

    # Waiting for issuance

    def wait_active(self, hosts: Iterable[tuple[str, str]]) -> None:
        """Until the certificate of every (domain, host) is ACTIVE: one listing a round."""
        waiting = dict((host, domain) for domain, host in hosts)
        if not waiting:
            return

        def check() -> bool | None:
            live = self.certificates()
            for host, domain in sorted(waiting.items()):
                cert = live.get(host)
                state = cert.state if cert else "MISSING"
                if state == "ACTIVE":
                    del waiting[host]
                elif state not in ("PROVISIONING", "STATE_UNSPECIFIED"):
                    issue = f" ({cert.issue})" if cert and cert.issue else ""
                    raise ProviderError(
                        f"{self.provider}: {domain}: certificate for {host} is {state}{issue}; "
                        "check its DNS authorization CNAME, then run apply again"
                    )
            return True if not waiting else None

        timeout = CERT_TIMEOUT.read()
        try:
            poll("certificates ACTIVE", check, Wait(timeout, 1.0, 30.0), sleep=self.sleep)
        except WaitTimedOut:
            host, domain = min(waiting.items(), key=lambda item: item[1])
            more = f" (and {len(waiting) - 1} more)" if len(waiting) > 1 else ""
            raise ProviderError(
                f"{self.provider}: {domain}{more}: certificate for {host} still PROVISIONING "
                f"after {timeout:g} s (MTASTS_GCP_CERT_TIMEOUT; its DNS authorization CNAME "
                "is published); run apply again later to continue"
            ) from None


def _authorization(item: Any) -> Authorization:
    record = item.dns_resource_record
    return Authorization(item.name, item.domain, record.name, record.data)


def _certificate(item: Any) -> Certificate:
    managed = item.managed
    issue = ""
    if managed.provisioning_issue and managed.provisioning_issue.details:
        issue = " ".join(managed.provisioning_issue.details.split())
    return Certificate(
        item.name,
        managed.domains[0],
        managed.state.name,
        tuple(managed.dns_authorizations),
        issue,
    )
