"""GCS for tests: gcp-storage-emulator, in-process, on a random 127.0.0.1 port.

    emulator = GcsEmulator().start()
    client = emulator.client()      # storage.Client, anonymous, aimed at the emulator
    emulator.wipe()                 # no buckets, no objects
    emulator.stop()

or the `gcp_storage` fixture (tests/gcp/conftest.py). To exercise the provider's own client
set-up, `monkeypatch.setenv("STORAGE_EMULATOR_HOST", emulator.endpoint)` instead. For a
request log, injected faults, generation preconditions and listing pages, put
gcp_storage_front.GcsFront before it (the `gcp_storage_front` fixture).

What gcp-storage-emulator 2026.7 keeps and drops, as google-cloud-storage 3.17 uses it
(each line is checked by tests/gcp/test_gcp_storage.py; "real GCS" is what the provider
must also be right for):

Kept, so the provider can rely on it here:
- object bytes, `cacheControl`, `md5Hash` (base64 MD5 of the bytes), `updated`, `size`,
  `generation` (new on every upload, even of the same bytes), `metageneration` (bumped by
  a metadata patch);
- `contentType` WITH `; charset=utf-8` when it is in the object's metadata (set
  `blob.content_type` before the upload), on any resumable upload (the type travels in
  `X-Upload-Content-Type`), and on a metadata patch;
- one bulk listing with `prefix` carrying `md5Hash`, `etag`, `updated`, `generation`,
  `contentType` and `cacheControl` per object;
- bucket create (409 when it exists), get (404 when missing), delete (409 while not empty);
- `iamConfiguration.uniformBucketLevelAccess.enabled` set by a bucket PATCH;
- bucket IAM policy get and set: the bindings (e.g. `roles/storage.objectViewer` for
  `allUsers`) are stored and read back; testIamPermissions grants whatever is asked.

Dropped or not enforced (the provider must not read these from the emulator; real GCS
differs):
- the `; charset=utf-8` parameter of a multipart upload whose type is given only as
  `upload_from_string(..., content_type=...)`: the emulator takes the media part's type
  without parameters (`text/plain`). Real GCS keeps the whole header. Set
  `blob.content_type` before uploading to send it in the metadata too (small uploads of
  known size are multipart: google-cloud-storage goes resumable above 8 MiB or for a
  stream of unknown size);
- `iamConfiguration.uniformBucketLevelAccess` on bucket insert (the bucket comes back with
  it off; patch it afterwards to see it on). Real GCS honours it at creation;
- generation preconditions: `if_generation_match` (including 0, "only if absent") is
  ignored on upload and delete. Real GCS answers 412 (google.api_core PreconditionFailed);
- paging: `maxResults` / `pageToken` are ignored, every object comes in one page with no
  `nextPageToken`. Real GCS pages at 1,000 objects (so N objects cost ceil(N/1000) calls);
- object `etag` equals `md5Hash` here; real GCS's etag is an opaque generation-based value
  (compare contents by `md5Hash`, never by etag);
- IAM: the policy `etag` is not checked (a stale etag is accepted and stored as sent),
  `version` stays 1 even when 3 is requested. Real GCS answers 412 to a stale etag;
- object ACL calls (`make_public`) are accepted under uniform bucket-level access; real
  GCS refuses them (400);
- downloads (media and the public read path `GET /{bucket}/{object}`) answer the bytes,
  `Content-Type` and `X-Goog-Hash`, but no `Cache-Control` and no `X-Goog-Generation`;
  google-cloud-storage copies download headers into the blob, so after
  `blob.download_as_bytes()` its `cache_control` and `generation` read None here (read
  metadata from `get_blob` or a listing). Real GCS sends both headers;
- the server is single-threaded HTTP/1.0: concurrent requests are served one by one.
"""

from __future__ import annotations

import socket
import threading
from typing import Any

from gcp_storage_emulator.server import create_server
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

DEFAULT_PROJECT = "mtasts-test"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class GcsEmulator:
    """gcp-storage-emulator in memory, in this process, on a random loopback port."""

    def __init__(self) -> None:
        self._server: Any = None
        self.port = 0

    def start(self) -> GcsEmulator:
        # The port is picked before the server binds it, and the emulator binds in its own
        # thread (start() would wait forever after a failed bind): start it from a helper
        # thread, give it a few seconds, and try another port if it did not come up.
        for _ in range(5):
            self.port = free_port()
            server = create_server("127.0.0.1", self.port, in_memory=True)
            starter = threading.Thread(target=server.start, daemon=True)
            starter.start()
            starter.join(10)
            if not starter.is_alive():
                self._server = server
                return self
        raise RuntimeError("gcp-storage-emulator did not start on a loopback port")

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    @property
    def endpoint(self) -> str:
        """`http://127.0.0.1:PORT`, for `client_options={"api_endpoint": ...}` or
        `STORAGE_EMULATOR_HOST`."""
        return f"http://127.0.0.1:{self.port}"

    def wipe(self) -> None:
        """No buckets and no objects."""
        assert self._server is not None
        self._server.wipe(keep_buckets=False)

    def client(self, project: str = DEFAULT_PROJECT) -> storage.Client:
        return storage.Client(
            project=project,
            credentials=AnonymousCredentials(),
            client_options={"api_endpoint": self.endpoint},
        )
