"""The GCS front (gcp_storage_front.py), checked through google-cloud-storage: the rules the
emulator lacks (generation preconditions, listing pages), the log and injected faults, and
that everything else still reaches the emulator unchanged."""

from __future__ import annotations

import io

import pytest
from gcp_storage_front import GcsFront
from google.api_core import exceptions as gexc
from google.api_core.retry import Retry
from google.cloud import storage

BUCKET = "mtasts-mtasts-test"
KEY = "mta-sts.example.com/.well-known/mta-sts.txt"
TEXT = "text/plain; charset=utf-8"


@pytest.fixture
def bucket(gcp_storage_front: GcsFront) -> storage.Bucket:
    return gcp_storage_front.client().create_bucket(BUCKET)


def put(bucket: storage.Bucket, key: str, data: bytes, **kwargs) -> storage.Blob:
    """A multipart upload (the size is known and small)."""
    blob = bucket.blob(key)
    blob.content_type = TEXT
    blob.upload_from_string(data, **kwargs)
    return blob


def put_resumable(bucket: storage.Bucket, key: str, data: bytes, **kwargs) -> storage.Blob:
    """A resumable upload in 256 KiB chunks (a stream of unknown size)."""
    blob = bucket.blob(key, chunk_size=256 * 1024)
    blob.upload_from_file(io.BytesIO(data), content_type=TEXT, **kwargs)
    return blob


def test_if_generation_match_zero_creates_only_when_absent(bucket: storage.Bucket):
    put(bucket, KEY, b"first", if_generation_match=0)
    with pytest.raises(gexc.PreconditionFailed) as caught:
        put(bucket, KEY, b"second", if_generation_match=0)
    assert "conditionNotMet" in str(caught.value)  # uploads carry no parsed `errors`
    assert bucket.blob(KEY).download_as_bytes() == b"first"


def test_if_generation_match_on_replace_and_delete(bucket: storage.Bucket):
    put(bucket, KEY, b"v1")
    generation = bucket.get_blob(KEY).generation
    put(bucket, KEY, b"v2", if_generation_match=generation)
    with pytest.raises(gexc.PreconditionFailed):
        put(bucket, KEY, b"v3", if_generation_match=generation)  # stale now
    with pytest.raises(gexc.PreconditionFailed):
        bucket.blob(KEY).delete(if_generation_match=generation)
    assert bucket.blob(KEY).download_as_bytes() == b"v2"
    current = bucket.get_blob(KEY).generation
    with pytest.raises(gexc.PreconditionFailed):
        bucket.get_blob(KEY, if_generation_match=generation)
    bucket.blob(KEY).delete(if_generation_match=current)
    assert bucket.get_blob(KEY) is None


def test_a_resumable_upload_goes_through_the_front_with_its_precondition(
    gcp_storage_front: GcsFront, bucket: storage.Bucket
):
    data = b"x" * (300 * 1024)
    put_resumable(bucket, KEY, data, if_generation_match=0)
    blob = bucket.get_blob(KEY)
    assert (blob.size, blob.content_type) == (len(data), TEXT)
    assert gcp_storage_front.count("PUT", r"^/upload/") == 2  # both chunks came to the front
    with pytest.raises(gexc.PreconditionFailed):
        put_resumable(bucket, KEY, b"y" * len(data), if_generation_match=0)
    assert gcp_storage_front.count("PUT", r"^/upload/") == 2  # refused at the start
    assert bucket.blob(KEY).download_as_bytes() == data


def test_listings_page_and_are_counted(gcp_storage_front: GcsFront, bucket: storage.Bucket):
    for i in range(5):
        put(bucket, f"mta-sts.d{i}.example/.well-known/mta-sts.txt", b"p%d" % i)
    put(bucket, "other/key", b"x")
    before = gcp_storage_front.count("GET", r"/o$")
    client = gcp_storage_front.client()
    pages = list(client.list_blobs(BUCKET, prefix="mta-sts.", page_size=2).pages)
    assert [p.num_items for p in pages] == [2, 2, 1]
    assert gcp_storage_front.count("GET", r"/o$") - before == 3
    everything = list(client.list_blobs(BUCKET, prefix="mta-sts."))
    assert len(everything) == 5 and all(b.md5_hash and b.updated for b in everything)
    assert gcp_storage_front.count("GET", r"/o$") - before == 4  # one page of up to 1,000
    slashed = list(client.list_blobs(BUCKET, delimiter="/").pages)
    assert set(slashed[0].prefixes) == {"other/"} | {f"mta-sts.d{i}.example/" for i in range(5)}


def test_injected_faults_answer_in_gcs_envelope(gcp_storage_front: GcsFront, bucket):
    gcp_storage_front.inject("GET", r"/o$", 429)
    no_retry = Retry(predicate=lambda exc: False)
    with pytest.raises(gexc.TooManyRequests) as caught:
        list(gcp_storage_front.client().list_blobs(BUCKET, retry=no_retry))
    assert caught.value.errors[0]["reason"] == "rateLimitExceeded"
    gcp_storage_front.inject("POST", r"^/upload/", 503, times=1)
    put(bucket, KEY, b"retried", if_generation_match=0)  # the library retries a conditional upload
    assert [c.status for c in gcp_storage_front.calls if c.path.startswith("/upload/")] == [
        503,
        200,
    ]
    assert bucket.blob(KEY).download_as_bytes() == b"retried"


def test_the_log_and_the_reset(gcp_storage_front: GcsFront, bucket: storage.Bucket):
    put(bucket, KEY, b"x")
    assert gcp_storage_front.count("POST", r"^/storage/v1/b$") == 1  # the bucket
    assert gcp_storage_front.count("POST", r"^/upload/storage/v1/b/[^/]+/o$") == 1
    call = next(c for c in gcp_storage_front.calls if c.path.startswith("/upload/"))
    assert call.query["uploadType"] == "multipart" and call.status == 200
    gcp_storage_front.reset()
    assert gcp_storage_front.calls == []
    assert list(gcp_storage_front.client().list_buckets()) == []
