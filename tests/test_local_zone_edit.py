"""`edit_zone_fragment`: whatever an operator wrote in a fragment, only the values mtasts
asks for change (issue 9.4: comments, foreign TTLs, strings and escapes round-trip)."""

from __future__ import annotations

from collections import Counter

from dns.rdataclass import IN
from dns.rdatatype import TXT as TXT_TYPE
from dns.rdtypes.ANY.TXT import TXT
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import PROPERTY

from provisioner.zonefile import edit_zone_fragment, parse_zone_fragment, txt_values

_OWNERS = ("_mta-sts.a.example", "_smtp._tls.a.example", "www.a.example")
_txt_values = st.lists(st.binary(max_size=300), min_size=1, max_size=3)


@st.composite
def _fragments(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A fragment an operator might write: comments, foreign TXT records at mtasts's names
    and others (any bytes, any split, any TTL), each on its own line."""
    lines: list[str] = []
    for _ in range(draw(st.integers(0, 6))):
        if draw(st.booleans()):
            lines.append("; " + draw(st.text(st.characters(codec="utf-8"), max_size=20)))
            lines[-1] = lines[-1].replace("\n", " ").replace("\r", " ")  # both end a line
            continue
        owner = draw(st.sampled_from(_OWNERS))
        strings = [s[:255] for s in draw(_txt_values)]
        rdata = TXT(IN, TXT_TYPE, strings).to_text()
        lines.append(f"{owner}. {draw(st.integers(1, 86400))} IN TXT {rdata}")
    return "".join(line + "\n" for line in lines), lines


@settings(PROPERTY, max_examples=60)
@given(
    fragment=_fragments(),
    wanted=st.lists(
        st.sampled_from(["v=STSv1; id=new1", "v=STSv1; id=new2", "other"]), unique=True
    ),
    keep_some=st.booleans(),
)
def test_editing_a_fragment_changes_only_the_values_asked_for(fragment, wanted, keep_some):
    text, lines = fragment
    owner = "_mta-sts.a.example"
    before = parse_zone_fragment(text, "a.example")
    if keep_some:  # an rrset holds each value once, as the diff hands them over
        wanted = list(dict.fromkeys([*txt_values(before, owner)[:1], *wanted]))

    edited = edit_zone_fragment(text, "a.example", {owner: wanted})

    after = parse_zone_fragment(edited, "a.example")
    assert Counter(txt_values(after, owner)) == Counter(wanted)
    untouched = Counter(r for r in before if r.owner != owner)
    assert Counter(r for r in after if r.owner != owner) == untouched
    kept_lines = edited.split("\n")
    for line in lines:
        if not line.startswith(owner + "."):
            assert line in kept_lines, "comments and other names' records stay as written"


def test_a_comment_is_one_line_whatever_unicode_line_separators_it_holds():
    comment = '; was:\u2028_mta-sts.a.example. 300 IN TXT "v=STSv1; id=old"\x85end'
    text = f'{comment}\n_mta-sts.a.example. 300 IN TXT "v=STSv1; id=old"\n'

    edited = edit_zone_fragment(text, "a.example", {"_mta-sts.a.example": ["v=STSv1; id=new"]})

    assert edited == f'{comment}\n_mta-sts.a.example. 300 IN TXT "v=STSv1; id=new"\n'
