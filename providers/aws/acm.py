"""ACM: one DNS-validated SAN certificate per group of policy hosts, in us-east-1.

A group's certificate covers exactly its hosts (`grouping.py`); it is tagged
`mtasts:managed=group <n>`. Each name's DNS validation CNAME is the same for every
certificate that covers it, so adding a host to a group re-issues the certificate with the
other names already validated. Older deployments have one certificate per host, tagged
`mtasts:managed=<domain>`: they are kept until migration moves the host into a group.

Ownership: certificates mtasts requests carry the tag `mtasts:managed=<domain>`. The list
of certificates (one paginated ListCertificates per run) gives name and status; tags are
read (ListTagsForCertificate) only for a certificate with the right name that no mtasts
distribution already uses, which in a steady state is none.

Requests are idempotent for an hour through `IdempotencyToken` (derived from the domain),
so an apply that failed after RequestCertificate and runs again gets the same certificate
back. The DNS validation record may take a few seconds to appear in DescribeCertificate;
issuing takes minutes on AWS (seconds on moto with MOTO_ACM_VALIDATION_WAIT). Waiting is
bounded by `MTASTS_AWS_CERT_TIMEOUT` (default 30 minutes) and ends in a clear error naming the
validation record, so the next apply resumes where this one stopped.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from providers.aws.errors import reported
from providers.aws.tuning import CERT_TIMEOUT
from provisioner.concurrency import each
from provisioner.errors import ProviderError
from provisioner.polling import Wait, WaitTimedOut, poll

TAG_KEY = "mtasts:managed"
VALIDATION_RECORD_WAIT = Wait(120.0, 2.0, 2.0)
"""ACM names the validation CNAME a few seconds after the request: poll every 2 s, 2 min."""
USABLE = ("ISSUED", "PENDING_VALIDATION")


@dataclass(frozen=True)
class Certificate:
    arn: str
    host: str
    status: str
    names: frozenset[str] = frozenset()
    """Every name it covers (its DomainName and subject alternative names), lower case;
    empty when the listing did not say (moto 5.2 lists no SANs: `Certificates.complete`)."""

    def covers(self) -> frozenset[str]:
        return self.names or frozenset({self.host})


@dataclass(frozen=True)
class ValidationRecord:
    name: str
    value: str


def _certificate(summary: dict[str, Any]) -> Certificate:
    """A ListCertificates summary: AWS lists SANs as `SubjectAlternativeNameSummaries`
    (the first 100), moto as `SubjectAlternativeNames`."""
    host = summary["DomainName"].lower().rstrip(".")
    sans = summary.get("SubjectAlternativeNameSummaries") or summary.get("SubjectAlternativeNames")
    names = frozenset(n.lower().rstrip(".") for n in [host, *(sans or [])]) if sans else frozenset()
    return Certificate(summary["CertificateArn"], host, summary.get("Status", "UNKNOWN"), names)


def cert_timeout() -> float:
    """`MTASTS_AWS_CERT_TIMEOUT`, validated (already checked when the session was built)."""
    return CERT_TIMEOUT.read()


class Certificates:
    def __init__(self, provider: str, client: Any) -> None:
        self.provider = provider
        self.client = client

    def by_host(self) -> dict[str, list[Certificate]]:
        """host -> its certificates (any owner), from one paginated listing."""
        found: dict[str, list[Certificate]] = {}
        with reported(self.provider, None, "listing ACM certificates"):
            pages = self.client.get_paginator("list_certificates").paginate(
                PaginationConfig={"PageSize": 1000}
            )
            for page in pages:
                for summary in page["CertificateSummaryList"]:
                    cert = _certificate(summary)
                    for name in sorted(cert.covers()):
                        found.setdefault(name, []).append(cert)
        return found

    def complete(self, cert: Certificate) -> Certificate:
        """`cert` with its names from DescribeCertificate (for a listing without SANs)."""
        found = self.describe(cert.arn, cert.host)
        names = [cert.host, *(found.get("SubjectAlternativeNames") or [])]
        return Certificate(
            cert.arn, cert.host, cert.status, frozenset(n.lower().rstrip(".") for n in names)
        )

    def owned(self, candidates: Sequence[Certificate], domain: str) -> list[Certificate]:
        """The candidates tagged as mtasts's for this domain."""

        def tagged(cert: Certificate) -> bool:
            with reported(self.provider, domain, "reading certificate tags"):
                tags = self.client.list_tags_for_certificate(CertificateArn=cert.arn)["Tags"]
            return any(t["Key"] == TAG_KEY and t.get("Value") == domain for t in tags)

        flags = each(tagged, candidates, workers=4)
        return [cert for cert, ok in zip(candidates, flags, strict=True) if ok]

    def request_group(
        self, number: int, hosts: Sequence[str], replacing: str = "", spent: Sequence[str] = ()
    ) -> str:
        """Request the SAN certificate for a group's hosts (the first sorted is its name).

        The idempotency token names the group, its hosts, the certificate it replaces and
        the `spent` ones (ARNs of FAILED or timed-out certificates for the same name): an
        apply retried after a lost answer gets the same certificate back, while a host set
        seen before (a host left and came back), or one whose certificate FAILED, gets a
        new one, not the deleted or failed one (ACM answers a token seen within the hour
        with the certificate it made then, whatever became of it)."""
        names = sorted(hosts)
        seed = f"{number} {replacing} {' '.join(names)}"
        if spent:
            seed += " spent " + " ".join(sorted(spent))
        token = hashlib.sha256(seed.encode()).hexdigest()[:32]
        where = f"group {number}"
        with reported(self.provider, where, f"requesting a certificate for {len(names)} hosts"):
            answer = self.client.request_certificate(
                DomainName=names[0],
                SubjectAlternativeNames=names,
                ValidationMethod="DNS",
                IdempotencyToken=token,
                Tags=[{"Key": TAG_KEY, "Value": where}],
            )
        return str(answer["CertificateArn"])

    def validation_records(self, arn: str, where: str) -> list[ValidationRecord] | None:
        """Every name's validation CNAME, once ACM names them all (None until then)."""
        cert = self.describe(arn, where)
        found = []
        for option in cert.get("DomainValidationOptions", []):
            record = _cname(option)
            if record is None:
                return None
            found.append(record)
        return found or None

    def wait_validation_records(self, arn: str, where: str) -> list[ValidationRecord]:
        try:
            return poll(
                f"{self.provider}: {where}: the DNS validation records of {arn}",
                lambda: self.validation_records(arn, where),
                VALIDATION_RECORD_WAIT,
            )
        except WaitTimedOut:
            raise ProviderError(
                f"{self.provider}: {where}: ACM gave no DNS validation records for {arn}"
            ) from None

    def describe(self, arn: str, domain: str) -> dict[str, Any]:
        with reported(self.provider, domain, "describing a certificate"):
            return dict(self.client.describe_certificate(CertificateArn=arn)["Certificate"])

    def current_validation_record(self, arn: str, domain: str) -> ValidationRecord | None:
        """The CNAME ACM wants for this certificate, if it says yet."""
        cert = self.describe(arn, domain)
        options = cert.get("DomainValidationOptions", [])
        return next((r for o in options if (r := _cname(o)) is not None), None)

    def wait_issued(self, certs: Iterable[tuple[str, str]]) -> None:
        """Wait until every (domain, arn) is ISSUED; bounded, failing with the domain named.

        Polls the certificate list (one request per 1,000 certificates) rather than each
        certificate, so waiting for 1,000 new certificates costs a few requests a poll, not
        1,000 against ACM's 10-a-second DescribeCertificate quota.
        """
        waiting = dict((arn, domain) for domain, arn in certs)
        timeout = cert_timeout()

        def all_issued() -> bool | None:
            statuses = {
                cert.arn: cert.status for found in self.by_host().values() for cert in found
            }
            for arn, domain in sorted(waiting.items(), key=lambda item: item[1]):
                status = statuses.get(arn, "MISSING")
                if status == "ISSUED":
                    del waiting[arn]
                elif status != "PENDING_VALIDATION":
                    raise ProviderError(
                        f"{self.provider}: {domain}: certificate {arn} is "
                        f"{status}; delete it or run apply again to request a new one"
                    )
            return True if not waiting else None

        try:
            poll(f"{self.provider}: certificates ISSUED", all_issued, Wait(timeout, 0.5, 15.0))
            return
        except WaitTimedOut:
            pass
        domain = min(waiting.values())
        more = f" (and {len(waiting) - 1} more)" if len(waiting) > 1 else ""
        raise ProviderError(
            f"{self.provider}: {domain}{more}: certificate still PENDING_VALIDATION after "
            f"{timeout:.0f} s (its DNS validation CNAMEs are published); run apply again "
            "later to continue"
        )

    def delete(self, arn: str, domain: str) -> None:
        with reported(self.provider, domain, "deleting the certificate"):
            try:
                self.client.delete_certificate(CertificateArn=arn)
            except self.client.exceptions.ResourceNotFoundException:
                return


def _cname(option: dict[str, Any]) -> ValidationRecord | None:
    """A DomainValidationOption's CNAME (ACM DescribeCertificate), once ACM names it."""
    record = option.get("ResourceRecord")
    if not record or record.get("Type", "CNAME") != "CNAME":
        return None
    return ValidationRecord(record["Name"].lower().rstrip("."), record["Value"].rstrip("."))
