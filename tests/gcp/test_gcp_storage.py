"""What gcp-storage-emulator keeps and drops, through google-cloud-storage: one test per line
of the list in gcp_storage.py. A test named `..._dropped` or `..._not_enforced` pins a gap of
the emulator (real GCS differs); when the emulator fixes it, the test fails and the list in
gcp_storage.py must be updated."""

from __future__ import annotations

import base64
import hashlib
import io
import urllib.request

import pytest
from gcp_storage import GcsEmulator
from google.api_core import exceptions as gexc
from google.cloud import storage

BUCKET = "mtasts-mtasts-test"
KEY = "mta-sts.example.com/.well-known/mta-sts.txt"
POLICY = b"version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 86400\n"
TEXT = "text/plain; charset=utf-8"


@pytest.fixture
def bucket(gcp_storage: GcsEmulator) -> storage.Bucket:
    return gcp_storage.client().create_bucket(BUCKET)


def md5_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def upload(bucket: storage.Bucket, key: str, data: bytes, **kwargs) -> storage.Blob:
    blob = bucket.blob(key)
    blob.content_type = TEXT  # in the metadata part: the emulator keeps it whole
    blob.cache_control = "max-age=300"
    blob.upload_from_string(data, **kwargs)
    return blob


# Kept


def test_each_test_starts_with_no_buckets(gcp_storage: GcsEmulator):
    client = gcp_storage.client()
    assert list(client.list_buckets()) == []
    client.create_bucket("left-behind")


def test_the_wipe_removed_the_previous_tests_bucket(gcp_storage: GcsEmulator):
    assert list(gcp_storage.client().list_buckets()) == []


def test_upload_keeps_bytes_charset_cache_control_md5_and_generation(bucket: storage.Bucket):
    upload(bucket, KEY, POLICY)
    blob = bucket.get_blob(KEY)
    assert blob.content_type == TEXT
    assert blob.cache_control == "max-age=300"
    assert blob.md5_hash == md5_b64(POLICY)
    assert blob.size == len(POLICY)
    assert blob.updated is not None and blob.generation
    first = blob.generation
    upload(bucket, KEY, POLICY)  # the same bytes again: a new generation, the same md5
    again = bucket.get_blob(KEY)
    assert again.generation != first and again.md5_hash == blob.md5_hash
    assert bucket.blob(KEY).download_as_bytes() == POLICY


def test_a_resumable_upload_keeps_the_charset_even_as_an_argument(bucket: storage.Bucket):
    blob = bucket.blob(KEY, chunk_size=256 * 1024)  # a stream of unknown size: resumable
    blob.upload_from_file(io.BytesIO(b"x" * (300 * 1024)), content_type=TEXT)
    assert bucket.get_blob(KEY).content_type == TEXT


def test_a_metadata_patch_keeps_the_charset_and_bumps_metageneration(bucket: storage.Bucket):
    bucket.blob(KEY).upload_from_string(POLICY, content_type="text/plain")
    blob = bucket.get_blob(KEY)
    before = int(blob.metageneration)
    blob.content_type = TEXT
    blob.cache_control = "no-cache"
    blob.patch()
    patched = bucket.get_blob(KEY)
    assert (patched.content_type, patched.cache_control) == (TEXT, "no-cache")
    assert int(patched.metageneration) > before


def test_one_listing_with_prefix_carries_md5_etag_updated_per_object(
    gcp_storage: GcsEmulator, bucket: storage.Bucket
):
    for i in range(5):
        upload(bucket, f"mta-sts.d{i}.example/.well-known/mta-sts.txt", POLICY + bytes([i]))
    bucket.blob("not-ours/file").upload_from_string(b"x")
    blobs = list(gcp_storage.client().list_blobs(BUCKET, prefix="mta-sts."))
    assert [b.name for b in blobs] == [
        f"mta-sts.d{i}.example/.well-known/mta-sts.txt" for i in range(5)
    ]
    for i, blob in enumerate(blobs):
        assert blob.md5_hash == md5_b64(POLICY + bytes([i]))
        assert blob.etag and blob.updated is not None and blob.generation
        assert (blob.content_type, blob.cache_control) == (TEXT, "max-age=300")


def test_buckets_create_409_get_404_delete_non_empty_409(gcp_storage: GcsEmulator, bucket):
    client = gcp_storage.client()
    with pytest.raises(gexc.Conflict):
        client.create_bucket(BUCKET)
    with pytest.raises(gexc.NotFound):
        client.get_bucket("missing-bucket")
    with pytest.raises(gexc.NotFound):
        bucket.blob("missing").download_as_bytes()
    upload(bucket, KEY, POLICY)
    with pytest.raises(gexc.Conflict):
        bucket.delete()


def test_uniform_access_is_kept_when_patched(gcp_storage: GcsEmulator, bucket: storage.Bucket):
    bucket.iam_configuration.uniform_bucket_level_access_enabled = True
    bucket.patch()
    assert (
        gcp_storage.client()
        .get_bucket(BUCKET)
        .iam_configuration.uniform_bucket_level_access_enabled
    )


def test_iam_policy_bindings_are_stored(bucket: storage.Bucket):
    policy = bucket.get_iam_policy(requested_policy_version=3)
    assert list(policy.bindings) == []
    policy.bindings.append({"role": "roles/storage.objectViewer", "members": {"allUsers"}})
    bucket.set_iam_policy(policy)
    again = bucket.get_iam_policy(requested_policy_version=3)
    assert again.bindings == [{"role": "roles/storage.objectViewer", "members": {"allUsers"}}]
    assert bucket.test_iam_permissions(["storage.objects.get"]) == ["storage.objects.get"]


# Dropped or not enforced (real GCS differs)


def test_charset_given_only_as_a_multipart_upload_argument_is_dropped(bucket: storage.Bucket):
    bucket.blob(KEY).upload_from_string(POLICY, content_type=TEXT)
    assert bucket.get_blob(KEY).content_type == "text/plain"  # real GCS: TEXT


def test_uniform_access_on_bucket_insert_is_dropped(gcp_storage: GcsEmulator):
    client = gcp_storage.client()
    wanted = client.bucket(BUCKET)
    wanted.iam_configuration.uniform_bucket_level_access_enabled = True
    client.create_bucket(wanted)
    got = client.get_bucket(BUCKET)
    assert not got.iam_configuration.uniform_bucket_level_access_enabled  # real GCS: True


def test_generation_preconditions_are_not_enforced(bucket: storage.Bucket):
    upload(bucket, KEY, POLICY)
    generation = bucket.get_blob(KEY).generation
    # Each of these is a 412 PreconditionFailed on real GCS.
    bucket.blob(KEY).upload_from_string(b"stale", if_generation_match=generation + 1)
    bucket.blob(KEY).upload_from_string(b"exists", if_generation_match=0)
    bucket.blob(KEY).delete(if_generation_match=generation)
    assert bucket.get_blob(KEY) is None


def test_listing_paging_is_ignored(gcp_storage: GcsEmulator, bucket: storage.Bucket):
    for i in range(5):
        upload(bucket, f"mta-sts.d{i}.example/.well-known/mta-sts.txt", POLICY)
    pages = list(gcp_storage.client().list_blobs(BUCKET, prefix="mta-sts.", page_size=2).pages)
    assert [page.num_items for page in pages] == [5]  # real GCS: [2, 2, 1]


def test_object_etag_is_the_md5_here(bucket: storage.Bucket):
    upload(bucket, KEY, POLICY)
    blob = bucket.get_blob(KEY)
    assert blob.etag == blob.md5_hash  # real GCS: an opaque value; compare by md5Hash


def test_iam_policy_etag_is_not_checked(bucket: storage.Bucket):
    policy = bucket.get_iam_policy(requested_policy_version=3)
    assert policy.version == 1
    policy.etag = "BwStaleStale="
    policy.bindings.append({"role": "roles/storage.objectViewer", "members": {"allUsers"}})
    bucket.set_iam_policy(policy)  # real GCS: 412 for a stale etag
    assert bucket.get_iam_policy(requested_policy_version=3).etag == "BwStaleStale="


def test_object_acls_are_accepted_under_uniform_access(bucket: storage.Bucket):
    bucket.iam_configuration.uniform_bucket_level_access_enabled = True
    bucket.patch()
    upload(bucket, KEY, POLICY)
    bucket.blob(KEY).make_public()  # real GCS: 400, object ACLs are off under UBLA


def test_a_download_answers_no_cache_control_nor_generation(bucket: storage.Bucket):
    upload(bucket, KEY, POLICY)
    blob = bucket.get_blob(KEY)
    assert blob.cache_control == "max-age=300"
    assert blob.download_as_bytes() == POLICY
    # The library takes these from the download's headers, which the emulator leaves out:
    # read metadata with get_blob / a listing, never from a blob after a download.
    assert (blob.content_type, blob.md5_hash) == (TEXT, md5_b64(POLICY))
    assert (blob.cache_control, blob.generation) == (None, None)  # real GCS: both set


def test_public_read_serves_content_type_but_no_cache_control(
    gcp_storage: GcsEmulator, bucket: storage.Bucket
):
    upload(bucket, KEY, POLICY)
    with urllib.request.urlopen(f"{gcp_storage.endpoint}/{BUCKET}/{KEY}", timeout=10) as answer:
        assert answer.read() == POLICY
        assert answer.headers["Content-Type"] == TEXT
        assert answer.headers.get("Cache-Control") is None  # real GCS: max-age=300


def test_storage_emulator_host_aims_a_plain_client_with_no_credentials(
    gcp_storage: GcsEmulator, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcp_storage.endpoint)
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    client = storage.Client(project="mtasts-test")  # no ADC needed: anonymous
    client.create_bucket(BUCKET)
    assert [b.name for b in gcp_storage.client().list_buckets()] == [BUCKET]
