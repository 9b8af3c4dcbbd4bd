"""Compute Engine calls behind the load balancer: list, insert, change, delete, and operations.

Every mutation of a global Compute resource answers an Operation that ends DONE, maybe with
an error (https://cloud.google.com/compute/docs/reference/rest/v1/globalOperations). The
library's own `insert(...).result()` polls through a GlobalOperationsClient built without
`client_options` (the real googleapis host even against an emulator) and does not bound a
single poll, so mutations here use `*_unary()` and operations are polled with our own
GlobalOperationsClient, GET by GET with growing pauses (`provisioner.polling`), bounded by
`MTASTS_GCP_OPERATION_TIMEOUT`. Many operations are awaited together, one GET each a round.

Every call passes `timeout=request_timeout()` (the library's default is 600 s) and
`retry=None`: retries are ours (`providers.gcp.transient`), the same for reads and writes.
Inserts and deletes carry a `requestId`, so a retried write answers the first operation
instead of a 409 or 404 (the `requestId` query parameter of every mutation, e.g.
https://cloud.google.com/compute/docs/reference/rest/v1/globalAddresses/insert). A 409 on
insert (made by an earlier, interrupted run) and a 404 on delete count as done.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from google.api_core import exceptions as google_exceptions
from google.cloud import compute_v1

from providers.gcp.clients import client_options, credentials_for, request_timeout
from providers.gcp.errors import reported
from providers.gcp.transient import retried
from provisioner import knobs
from provisioner.errors import ProviderError
from provisioner.polling import Wait, poll

OPERATION_TIMEOUT = knobs.seconds("MTASTS_GCP_OPERATION_TIMEOUT", 600.0, 7_200.0)
"""Seconds a Compute operation may take to be DONE (load balancer pieces take seconds)."""


@dataclass(frozen=True)
class Collection:
    """One global Compute collection as google-cloud-compute names its pieces."""

    client: type[Any]
    resource_field: str
    """The request's body field on insert (`address_resource`)."""
    name_field: str
    """The request's name field on get/delete (`address`)."""
    insert: type[Any]
    delete: type[Any]
    noun: str


COLLECTIONS: dict[str, Collection] = {
    "addresses": Collection(
        compute_v1.GlobalAddressesClient,
        "address_resource",
        "address",
        compute_v1.InsertGlobalAddressRequest,
        compute_v1.DeleteGlobalAddressRequest,
        "global address",
    ),
    "backendBuckets": Collection(
        compute_v1.BackendBucketsClient,
        "backend_bucket_resource",
        "backend_bucket",
        compute_v1.InsertBackendBucketRequest,
        compute_v1.DeleteBackendBucketRequest,
        "backend bucket",
    ),
    "sslPolicies": Collection(
        compute_v1.SslPoliciesClient,
        "ssl_policy_resource",
        "ssl_policy",
        compute_v1.InsertSslPolicyRequest,
        compute_v1.DeleteSslPolicyRequest,
        "SSL policy",
    ),
    "urlMaps": Collection(
        compute_v1.UrlMapsClient,
        "url_map_resource",
        "url_map",
        compute_v1.InsertUrlMapRequest,
        compute_v1.DeleteUrlMapRequest,
        "URL map",
    ),
    "targetHttpsProxies": Collection(
        compute_v1.TargetHttpsProxiesClient,
        "target_https_proxy_resource",
        "target_https_proxy",
        compute_v1.InsertTargetHttpsProxyRequest,
        compute_v1.DeleteTargetHttpsProxyRequest,
        "target HTTPS proxy",
    ),
    "forwardingRules": Collection(
        compute_v1.GlobalForwardingRulesClient,
        "forwarding_rule_resource",
        "forwarding_rule",
        compute_v1.InsertGlobalForwardingRuleRequest,
        compute_v1.DeleteGlobalForwardingRuleRequest,
        "global forwarding rule",
    ),
}


@dataclass(frozen=True)
class Pending:
    """An operation as the mutation answered it, with what it does for the error message."""

    name: str
    doing: str
    answer: Any = field(default=None, compare=False)
    """The Operation the mutation returned: one already DONE is never polled."""


class Compute:
    def __init__(
        self, provider: str, project: str, endpoint: str | None, sleep: Callable[[float], None]
    ) -> None:
        self.provider = provider
        self.project = project
        self.sleep = sleep
        self._options = client_options(endpoint)
        self._credentials = credentials_for(endpoint)
        self._clients: dict[type[Any], Any] = {}

    def client(self, cls: type[Any]) -> Any:
        if cls not in self._clients:
            with reported(self.provider, None, "connecting to the Compute Engine API"):
                self._clients[cls] = cls(
                    transport="rest", client_options=self._options, credentials=self._credentials
                )
        return self._clients[cls]

    def close(self) -> None:
        for client in self._clients.values():
            client.transport.close()
        self._clients.clear()

    def _call(self, doing: str, call: Callable[[], Any]) -> Any:
        with reported(self.provider, None, doing):
            return retried(doing, call, self.sleep)

    # Reads

    def list(self, collection: str) -> list[Any]:
        """Every resource of the collection in the project (mtasts's are picked by name)."""
        spec = COLLECTIONS[collection]
        client = self.client(spec.client)
        return list(
            self._call(
                f"listing {spec.noun}s",
                lambda: list(
                    client.list(project=self.project, retry=None, timeout=request_timeout())
                ),
            )
        )

    def get(self, collection: str, name: str) -> Any:
        spec = COLLECTIONS[collection]
        request = {"project": self.project, spec.name_field: name}
        client = self.client(spec.client)
        return self._call(
            f"reading {spec.noun} {name}",
            lambda: client.get(request=request, retry=None, timeout=request_timeout()),
        )

    # Writes: each returns the operation to await

    def insert(self, collection: str, resource: Any) -> Pending | None:
        """Create; None when one of that name is already there (made by an earlier run)."""
        spec = COLLECTIONS[collection]
        request = spec.insert(
            project=self.project,
            request_id=str(uuid.uuid4()),
            **{spec.resource_field: resource},
        )
        call = self.client(spec.client).insert_unary
        doing = f"creating {spec.noun} {resource.name}"
        with reported(self.provider, None, doing):
            try:
                operation = retried(
                    doing,
                    lambda: call(request=request, retry=None, timeout=request_timeout()),
                    self.sleep,
                )
            except google_exceptions.Conflict:
                return None
        return Pending(operation.name, doing, operation)

    def delete(self, collection: str, name: str) -> Pending | None:
        """Delete; None when it is already gone."""
        spec = COLLECTIONS[collection]
        request = spec.delete(
            project=self.project, request_id=str(uuid.uuid4()), **{spec.name_field: name}
        )
        call = self.client(spec.client).delete_unary
        doing = f"deleting {spec.noun} {name}"
        with reported(self.provider, None, doing):
            try:
                operation = retried(
                    doing,
                    lambda: call(request=request, retry=None, timeout=request_timeout()),
                    self.sleep,
                )
            except google_exceptions.NotFound:
                return None
        return Pending(operation.name, doing, operation)

    def mutate(self, doing: str, client_class: type[Any], method: str, request: Any) -> Pending:
        """Send one mutation (`update_unary`, `set_url_map_unary`...); its operation."""
        call = getattr(self.client(client_class), method)
        operation = self._call(
            doing, lambda: call(request=request, retry=None, timeout=request_timeout())
        )
        return Pending(operation.name, doing, operation)

    def wait(self, pending: Sequence[Pending | None]) -> None:
        """Until every operation is DONE; an operation that ended in error is one line."""
        waiting: dict[str, Pending] = {}
        for item in pending:
            if item is None:
                continue
            answer = item.answer
            if answer is not None and answer.status == compute_v1.Operation.Status.DONE:
                if answer.error and answer.error.errors:
                    raise ProviderError(f"{self.provider}: {item.doing} failed: {_failure(answer)}")
                continue  # done in the mutation's own answer: nothing to poll
            waiting[item.name] = item
        if not waiting:
            return
        operations = self.client(compute_v1.GlobalOperationsClient)

        def check() -> bool | None:
            for name, item in sorted(waiting.items()):
                with reported(self.provider, None, f"{item.doing} (awaiting its operation)"):
                    op = retried(
                        item.doing,
                        partial(
                            operations.get,
                            project=self.project,
                            operation=name,
                            retry=None,
                            timeout=request_timeout(),
                        ),
                        self.sleep,
                    )
                if op.status != compute_v1.Operation.Status.DONE:
                    continue
                del waiting[name]
                if op.error and op.error.errors:
                    raise ProviderError(f"{self.provider}: {item.doing} failed: {_failure(op)}")
            return True if not waiting else None

        first = min(waiting.values(), key=lambda p: p.name).doing
        poll(
            f"{self.provider}: {first} (operation DONE)",
            check,
            Wait(OPERATION_TIMEOUT.read(), 0.5, 10.0),
            sleep=self.sleep,
        )


def _failure(op: Any) -> str:
    """An operation's error on one line, the quota named when it is one."""
    errors = "; ".join(f"{e.code}: {e.message}" for e in op.error.errors)
    status = f"HTTP {op.http_error_status_code} " if op.http_error_status_code else ""
    return " ".join(f"{status}{errors}".split())
