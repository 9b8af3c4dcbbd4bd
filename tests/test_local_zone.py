"""The local provider's zone fragments: delegations it must not write beside (issue 8.2), and
foreign data that must round-trip exactly (issue 9.4).

A fragment is the operator's file as much as mtasts's: they `$INCLUDE` it, add records and
comments to it, and may delegate `_mta-sts` to a hosted service with a CNAME. mtasts edits
only its own TXT lines and never writes a TXT beside a CNAME.
"""

from __future__ import annotations

import dns.zone
import pytest
from clihelpers import (
    append_zone,
    policy_file,
    run,
    simple_domains,
    snapshot,
    sts_values,
    write_spec,
    zone_file,
)

from provisioner.errors import ProviderError
from provisioner.plan import Action, Change
from provisioner.provider import NoProgress
from provisioner.registry import build_provider
from provisioner.state import BlockingRecord, Resource


@pytest.fixture
def provider(tmp_path):
    return build_provider("local", "local", {"path": "out"}, tmp_path)


def _sts_change(before: tuple[str, ...], after: tuple[str, ...]) -> Change:
    action = Action.CREATE if not before else Action.UPDATE
    return Change(
        "a.example",
        "local",
        Resource.STS_RECORD,
        action,
        next((v for v in before if v.startswith("v=STSv1")), None),
        next((v for v in after if v.startswith("v=STSv1")), None),
        "test",
        before,
        after,
    )


def _strings(root, domain: str, owner: str) -> list[tuple[int, tuple[bytes, ...]]]:
    """(TTL, character-strings) of each TXT record at owner, as a DNS server loads them (one
    TTL per rrset: the TTL as written is asserted on the text)."""
    text = zone_file(root, domain).read_text(encoding="utf-8")
    zone = dns.zone.from_text(text, origin=domain + ".", relativize=False, check_origin=False)
    rdataset = zone.get_rdataset(owner + ".", "TXT")
    if rdataset is None:
        return []
    return sorted((rdataset.ttl, tuple(r.strings)) for r in rdataset)


# --- a CNAME where mtasts would write a TXT (issue 8.2) -----------------------------------


def test_a_cname_at_the_sts_or_tlsrpt_name_is_read_as_blocking(provider, tmp_path):
    append_zone(
        tmp_path / "out",
        "a.example",
        "_mta-sts.a.example. 300 IN CNAME a.example.sts.vendor.example.",
        "_smtp._tls.a.example. 300 IN CNAME Reports.Vendor.Example.",
    )

    state = provider.read(["a.example"], NoProgress())["a.example"]

    assert state.blocking == (
        BlockingRecord(
            Resource.STS_RECORD, "_mta-sts.a.example", "CNAME", "a.example.sts.vendor.example"
        ),
        BlockingRecord(
            Resource.TLSRPT_RECORD, "_smtp._tls.a.example", "CNAME", "reports.vendor.example"
        ),
    )
    assert state.sts_txt == ()


def test_an_ns_delegation_of_the_sts_name_is_blocking_too(provider, tmp_path):
    append_zone(tmp_path / "out", "a.example", "_mta-sts.a.example. 300 IN NS ns1.vendor.example.")

    state = provider.read(["a.example"], NoProgress())["a.example"]

    assert state.blocking == (
        BlockingRecord(Resource.STS_RECORD, "_mta-sts.a.example", "NS", "ns1.vendor.example"),
    )


def test_apply_never_writes_a_txt_beside_a_cname(provider, tmp_path):
    root = tmp_path / "out"
    append_zone(root, "a.example", "_mta-sts.a.example. 300 IN CNAME sts.vendor.example.")
    before = zone_file(root, "a.example").read_bytes()

    with pytest.raises(ProviderError) as caught:
        provider.apply([_sts_change((), ("v=STSv1; id=x",))], NoProgress())

    assert "_mta-sts.a.example is a CNAME to sts.vendor.example" in str(caught.value)
    assert "\n" not in str(caught.value)
    assert zone_file(root, "a.example").read_bytes() == before


def test_plan_and_apply_refuse_a_delegated_domain_and_write_nothing(tmp_path):
    root = tmp_path / "out"
    append_zone(root, "a.example", "_mta-sts.a.example. 300 IN CNAME sts.vendor.example.")
    spec = write_spec(tmp_path, simple_domains(["a.example", "b.example"]))
    before = snapshot(root)

    for command in ("plan", "apply"):
        extra = ("--auto-approve",) if command == "apply" else ()
        result = run(command, "-c", spec, *extra)

        assert result.exit_code == 1, result.stdout
        assert "Traceback" not in result.stderr
        [line] = [x for x in result.stderr.splitlines() if "a.example" in x]
        assert "_mta-sts.a.example is a CNAME to sts.vendor.example" in line
        assert "mtasts import a.example" in line
        assert snapshot(root) == before, "nothing written, for any domain"


def test_a_tlsrpt_cname_does_not_block_a_spec_that_leaves_tlsrpt_alone(tmp_path):
    root = tmp_path / "out"
    append_zone(root, "a.example", "_smtp._tls.a.example. 300 IN CNAME reports.vendor.example.")
    no_tlsrpt = {"provider": "local", "mode": "testing", "max_age": 86400}
    spec = write_spec(tmp_path, simple_domains(["a.example"]), defaults=no_tlsrpt)

    result = run("apply", "-c", spec, "--auto-approve")

    assert result.exit_code == 0, result.stderr
    assert policy_file(root, "a.example").is_file()
    assert sts_values(root, "a.example")
    text = zone_file(root, "a.example").read_text(encoding="utf-8")
    assert "_smtp._tls.a.example. 300 IN CNAME reports.vendor.example." in text


# --- foreign data round-trips exactly (issue 9.4) -----------------------------------------


FOREIGN = [
    "; operator: the vendor's records, keep them",
    'www.a.example. 3600 IN TXT "caf\\195\\169"  ; a UTF-8 value',
    '_mta-sts.a.example. 7200 IN TXT "vendor-verification=" "keep" ; two strings, long TTL',
    '_mta-sts.a.example. 300 IN TXT "line one\\010line two"',
    '_mta-sts.a.example. 300 IN TXT "v=STSv1; id=old"',
]


def _foreign_strings(root) -> list[tuple[bytes, ...]]:
    return [
        strings
        for _, strings in _strings(root, "a.example", "_mta-sts.a.example")
        if not strings[0].startswith(b"v=STSv1")
    ]


def test_a_non_ascii_value_in_a_fragment_does_not_crash_the_plan(tmp_path):
    append_zone(tmp_path / "out", "a.example", *FOREIGN)
    spec = write_spec(tmp_path, simple_domains(["a.example"]))

    result = run("plan", "-c", spec)

    assert result.exit_code == 0, result.stderr
    assert "internal error" not in result.stderr


def test_apply_keeps_foreign_records_comments_ttls_and_strings_exactly(tmp_path):
    root = tmp_path / "out"
    append_zone(root, "a.example", *FOREIGN)
    foreign_before = _foreign_strings(root)
    www_before = _strings(root, "a.example", "www.a.example")
    spec = write_spec(tmp_path, simple_domains(["a.example"]))

    result = run("apply", "-c", spec, "--auto-approve")

    assert result.exit_code == 0, result.stderr
    text = zone_file(root, "a.example").read_text(encoding="utf-8")
    for line in FOREIGN[:-1]:
        assert line in text.splitlines(), f"kept as written: {line}"
    assert "id=old" not in text
    assert "\nline two" not in text, "an escaped newline stays escaped"
    assert _foreign_strings(root) == foreign_before
    assert len(foreign_before) == 2
    assert _strings(root, "a.example", "www.a.example") == www_before == [(3600, (b"caf\xc3\xa9",))]
    [sts] = [v for v in sts_values(root, "a.example") if v.startswith("v=STSv1")]
    assert sts != "v=STSv1; id=old"

    again = run("plan", "-c", spec, "--detailed-exitcode")
    assert again.exit_code == 0, again.stdout + again.stderr


def test_an_id_change_replaces_the_sts_line_in_place(provider, tmp_path):
    root = tmp_path / "out"
    append_zone(
        root,
        "a.example",
        "; first",
        '_mta-sts.a.example. 300 IN TXT "v=STSv1; id=old"',
        "; last",
    )

    provider.apply([_sts_change(("v=STSv1; id=old",), ("v=STSv1; id=new",))], NoProgress())

    assert zone_file(root, "a.example").read_text(encoding="utf-8").splitlines() == [
        "; first",
        '_mta-sts.a.example. 300 IN TXT "v=STSv1; id=new"',
        "; last",
    ]


def test_an_unusual_layout_still_gets_exactly_the_records_intended(provider, tmp_path):
    root = tmp_path / "out"
    append_zone(
        root,
        "a.example",
        "$ORIGIN a.example.",
        "_mta-sts 300 IN TXT (",
        '    "v=STSv1; id=old" )',
        'www 600 IN TXT "keep" "me"',
    )

    provider.apply([_sts_change(("v=STSv1; id=old",), ("v=STSv1; id=new",))], NoProgress())

    assert _strings(root, "a.example", "_mta-sts.a.example") == [(300, (b"v=STSv1; id=new",))]
    assert _strings(root, "a.example", "www.a.example") == [(600, (b"keep", b"me"))]


def test_a_value_that_is_not_utf8_survives_a_saved_plan_byte_for_byte(tmp_path):
    root = tmp_path / "out"
    foreign = '_mta-sts.a.example. 300 IN TXT "bad\\255byte" "x\\027[2J"'
    append_zone(root, "a.example", foreign, '_mta-sts.a.example. 300 IN TXT "v=STSv1; id=old"')
    spec = write_spec(tmp_path, simple_domains(["a.example"]))
    saved = tmp_path / "plan.json"

    shown = run("plan", "-c", spec, "--out", saved)
    applied = run("apply", "--auto-approve", saved)

    assert shown.exit_code == 0, shown.stderr
    assert "\x1b" not in shown.stdout
    assert applied.exit_code == 0, applied.stderr
    lines = zone_file(root, "a.example").read_text(encoding="utf-8").splitlines()
    assert foreign in lines
    assert [line for line in lines if "v=STSv1" in line] != [
        '_mta-sts.a.example. 300 IN TXT "v=STSv1; id=old"'
    ]
    assert run("plan", "-c", spec, "--detailed-exitcode").exit_code == 0


def test_an_origin_leading_outside_the_domain_is_refused_not_deleted(tmp_path):
    """A relative name under `$ORIGIN evil.` is not mtasts's record, whatever it says."""
    root = tmp_path / "out"
    lines = ("$ORIGIN evil.", '_mta-sts 300 IN TXT "v=STSv1; id=abc"', "www 300 IN A 192.0.2.1")
    append_zone(root, "a.example", *lines)
    before = zone_file(root, "a.example").read_bytes()
    spec = write_spec(tmp_path, simple_domains(["a.example"]))

    result = run("apply", "-c", spec, "--auto-approve")

    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert "$ORIGIN evil. is outside a.example" in line
    assert zone_file(root, "a.example").read_bytes() == before
