"""`apply --verify`: ids change only once the new policy is served from the real endpoint."""

from __future__ import annotations

from pathlib import Path

from clihelpers import policy_file, run, sts_values, write_spec
from harness import MtaStsWorld
from harness.https_server import Response


def serve_from_disk(world: MtaStsWorld, root: Path, domain: str) -> None:
    """A web server in front of the local provider's web root, reading it on each request."""

    def handler(method: str, path: str, headers: object) -> Response:
        file = policy_file(root, domain)
        if path != "/.well-known/mta-sts.txt" or not file.is_file():
            return Response(404, (("Content-Type", "text/plain"),), b"not found")
        return Response(200, (("Content-Type", "text/plain; charset=utf-8"),), file.read_bytes())

    world.serve_handler(f"mta-sts.{domain}", handler)


def serve_frozen(world: MtaStsWorld, domain: str, body: bytes) -> None:
    """A cache that keeps answering with what it held before the apply."""
    world.serve_handler(
        f"mta-sts.{domain}",
        lambda method, path, headers: Response(200, (("Content-Type", "text/plain"),), body),
    )


def verify_args(world: MtaStsWorld, *extra: str) -> list[str]:
    return [
        "--verify",
        "--connect-to",
        f"127.0.0.1:{world.https.port}",
        "--ca-bundle",
        str(world.ca_file),
        *extra,
    ]


def test_verify_passes_when_the_endpoint_serves_the_new_policy(mta_sts_world, tmp_path):
    spec = write_spec(tmp_path, {"example.com": {"mx": ["mx.example.com"]}})
    root = tmp_path / "out"
    serve_from_disk(mta_sts_world, root, "example.com")

    result = run("apply", "-c", spec, "--auto-approve", *verify_args(mta_sts_world))

    assert result.exit_code == 0, result.stderr
    served = [r for r in mta_sts_world.https_requests if r.host == "mta-sts.example.com"]
    assert served, "the policy was fetched from the endpoint before the TXT phase"
    assert sts_values(root, "example.com")[0].startswith("v=STSv1; id=")


def test_verify_stops_before_the_id_when_a_cache_serves_the_old_policy(mta_sts_world, tmp_path):
    spec = write_spec(tmp_path, {"example.com": {"mx": ["mx.example.com"]}})
    root = tmp_path / "out"
    assert run("apply", "-c", spec, "--auto-approve").exit_code == 0
    old_body = policy_file(root, "example.com").read_bytes()
    old_ids = sts_values(root, "example.com")
    serve_frozen(mta_sts_world, "example.com", old_body)

    write_spec(tmp_path, {"example.com": {"mx": ["mx.example.com"], "mode": "enforce"}})
    result = run(
        "apply", "-c", spec, "--auto-approve", *verify_args(mta_sts_world, "--verify-timeout", "1")
    )

    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert (
        "the new policy is not served after 1s for example.com (not the policy the new id "
        "announces)" in result.stderr
    )
    assert "no _mta-sts id was changed" in result.stderr
    assert policy_file(root, "example.com").read_bytes() != old_body, "the policy was published"
    assert sts_values(root, "example.com") == old_ids, "the id still names the old policy"


def test_a_second_run_does_not_move_the_id_while_the_cache_still_serves_the_old_policy(
    mta_sts_world, tmp_path
):
    """The first run published the policy and stopped; the second finds only the id left."""
    spec = write_spec(tmp_path, {"example.com": {"mx": ["mx.example.com"]}})
    root = tmp_path / "out"
    assert run("apply", "-c", spec, "--auto-approve").exit_code == 0
    old_body = policy_file(root, "example.com").read_bytes()
    old_ids = sts_values(root, "example.com")
    serve_frozen(mta_sts_world, "example.com", old_body)
    write_spec(tmp_path, {"example.com": {"mx": ["mx.example.com"], "mode": "enforce"}})
    verify = verify_args(mta_sts_world, "--verify-timeout", "1")
    assert run("apply", "-c", spec, "--auto-approve", *verify).exit_code == 1

    again = run("apply", "-c", spec, "--auto-approve", *verify)

    assert again.exit_code == 1, again.stdout
    assert "no _mta-sts id was changed" in again.stderr
    assert sts_values(root, "example.com") == old_ids, "senders would cache the old policy"

    serve_from_disk(mta_sts_world, root, "example.com")
    third = run("apply", "-c", spec, "--auto-approve", *verify)
    assert third.exit_code == 0, third.stderr
    assert sts_values(root, "example.com") != old_ids


def test_verify_names_a_fetch_error(mta_sts_world, tmp_path):
    spec = write_spec(tmp_path, {"example.com": {"mx": ["mx.example.com"]}})
    mta_sts_world.serve_wrong_cert("mta-sts.example.com")
    mta_sts_world.serve_handler(
        "mta-sts.example.com",
        lambda method, path, headers: Response(200, (("Content-Type", "text/plain"),), b"x"),
    )

    result = run(
        "apply", "-c", spec, "--auto-approve", *verify_args(mta_sts_world, "--verify-timeout", "1")
    )

    assert result.exit_code == 1
    assert "for example.com (certificate:" in result.stderr
    assert sts_values(tmp_path / "out", "example.com") == []


def test_bad_connect_to_is_a_one_line_error(tmp_path):
    spec = write_spec(tmp_path, {"example.com": {"mx": ["mx.example.com"]}})

    result = run("apply", "-c", spec, "--auto-approve", "--verify", "--connect-to", "nowhere")

    assert result.exit_code == 1
    assert result.stderr == "error: --connect-to: 'nowhere' is not HOST:PORT\n"


def test_verify_does_not_move_the_id_to_a_policy_served_as_html(mta_sts_world, tmp_path):
    """Senders refuse a policy that is not text/plain: `check` fails it, so must --verify."""
    spec = write_spec(tmp_path, {"example.com": {"mx": ["mx.example.com"]}})
    root = tmp_path / "out"

    def as_html(method, path, headers):
        file = policy_file(root, "example.com")
        body = file.read_bytes() if file.is_file() else b""
        return Response(200, (("Content-Type", "text/html"),), body)

    mta_sts_world.serve_handler("mta-sts.example.com", as_html)
    result = run(
        "apply", "-c", spec, "--auto-approve", *verify_args(mta_sts_world, "--verify-timeout", "1")
    )
    assert result.exit_code == 1
    assert "served as text/html, senders need text/plain" in result.stderr
    assert sts_values(root, "example.com") == []
