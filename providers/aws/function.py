"""The one CloudFront Function (viewer request) every shared distribution of a provider runs.

A shared distribution serves many `mta-sts.<domain>` hosts from one bucket; the function
maps the request's Host header to that host's key prefix, so `GET /.well-known/mta-sts.txt`
on `mta-sts.example.com` reads `mta-sts.example.com/.well-known/mta-sts.txt`. Any other path
(or a Host that is not a policy host) gets a 404 from the function itself, never a redirect:
RFC 8461 section 3.3 forbids senders to follow one. The code does not list the hosts, so
adding a domain never touches the function: it is created and published once per provider,
and updated only when this module's code changes (its hash is in the function's Comment, so
the one ListFunctions per apply tells whether it is current).

API: CloudFront CreateFunction / UpdateFunction / PublishFunction / ListFunctions
(runtime `cloudfront-js-2.0`), https://docs.aws.amazon.com/cloudfront/latest/APIReference/.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from providers.aws.errors import reported
from provisioner.rfc8461 import POLICY_PATH

RUNTIME = "cloudfront-js-2.0"

CODE = r"""// mtasts: serve each MTA-STS policy host's policy from its key prefix (RFC 8461 3.3).
function handler(event) {
  var request = event.request;
  var header = request.headers.host;
  var host = header && header.value ? header.value.toLowerCase() : "";
  var colon = host.indexOf(":");
  if (colon >= 0) {
    host = host.substring(0, colon);
  }
  if (host.charAt(host.length - 1) === ".") {
    host = host.substring(0, host.length - 1);
  }
  var valid = /^mta-sts\.[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(host);
  if (request.uri !== "PATH" || !valid || host.length > 253) {
    return { statusCode: 404, statusDescription: "Not Found" };
  }
  request.uri = "/" + host + "PATH";
  return request;
}
""".replace("PATH", POLICY_PATH)
"""The function's JavaScript: the Host header (port and trailing dot dropped, lower case)
must be `mta-sts.` followed by host-name labels, and the path exactly the policy path."""

CODE_HASH = hashlib.sha256(CODE.encode()).hexdigest()[:16]
COMMENT = f"mtasts policy host router {CODE_HASH}"


@dataclass(frozen=True)
class Function:
    name: str
    arn: str
    current: bool
    """Published with this module's code (the hash in its Comment)."""


def function_name(bucket: str) -> str:
    """`mtasts-<bucket>` in the characters and length (64) CloudFront allows."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", f"mtasts-{bucket}")[:64]


class Functions:
    def __init__(self, provider: str, client: Any) -> None:
        self.provider = provider
        self.client = client

    def find(self, name: str) -> Function | None:
        """The LIVE function of that name, from one ListFunctions walk."""
        marker: str | None = None
        with reported(self.provider, None, "listing CloudFront Functions"):
            while True:
                args: dict[str, Any] = {"Stage": "LIVE", "MaxItems": "100"}
                if marker:
                    args["Marker"] = marker
                page = self.client.list_functions(**args)["FunctionList"]
                for item in page.get("Items") or []:
                    if item["Name"] == name:
                        return Function(
                            name,
                            item["FunctionMetadata"]["FunctionARN"],
                            item["FunctionConfig"].get("Comment") == COMMENT,
                        )
                marker = page.get("NextMarker")
                if not marker:
                    return None

    def ensure(self, name: str) -> str:
        """The ARN of the published function with this module's code; creates or updates it.

        A function created but never published (an apply stopped in between) is not LIVE,
        so `find` misses it and CreateFunction answers FunctionAlreadyExists: it is then
        updated and published like an outdated one."""
        found = self.find(name)
        if found is not None and found.current:
            return found.arn
        config = {"Comment": COMMENT, "Runtime": RUNTIME}
        with reported(self.provider, None, f"publishing CloudFront Function {name}"):
            etag: str | None = None
            if found is None:
                try:
                    answer = self.client.create_function(
                        Name=name, FunctionConfig=config, FunctionCode=CODE.encode()
                    )
                    etag = answer["ETag"]
                except self.client.exceptions.FunctionAlreadyExists:
                    etag = None
            if etag is None:
                etag = self.client.describe_function(Name=name, Stage="DEVELOPMENT")["ETag"]
                etag = self.client.update_function(
                    Name=name, IfMatch=etag, FunctionConfig=config, FunctionCode=CODE.encode()
                )["ETag"]
            published = self.client.publish_function(Name=name, IfMatch=etag)
        return str(published["FunctionSummary"]["FunctionMetadata"]["FunctionARN"])
