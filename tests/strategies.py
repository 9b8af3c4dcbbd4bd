"""Hypothesis strategies for what mtasts renders: host names, mx patterns, policies, policy
ids, TLS-RPT destinations and TXT values.

Everything generated here is *valid* input: the property tests render it and expect our own
parser and the independent oracles (tests/test_oracles.py) to accept the result. Host names
are LDH labels in A-labels; some labels are IDNs (generated as U-labels, published as their
`xn--` A-label, as a spec author's `bücher.example` becomes in the policy).
"""

from __future__ import annotations

import idna
from hypothesis import settings
from hypothesis import strategies as st

from provisioner.rfc8461 import MAX_AGE_LIMIT, Mode, Policy

PROPERTY = settings(deadline=None)
"""For property tests: no per-example deadline (a loaded CI machine must not make them flaky)."""

_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"


def _ldh(min_inner: int, max_inner: int) -> st.SearchStrategy[str]:
    ends = st.sampled_from(_ALNUM)
    inner = st.text(alphabet=_ALNUM + "-", min_size=min_inner, max_size=max_inner)
    return st.builds(lambda a, b, c: a + b + c, ends, inner, ends)


def _plain_label_ok(label: str) -> bool:
    # IDNA 2008 reserves "??--" (positions 3-4) for A-labels such as "xn--"; a random
    # "ab--c" is not a host name idna accepts.
    return label[2:4] != "--"


ldh_labels: st.SearchStrategy[str] = st.one_of(
    st.sampled_from(_ALNUM), _ldh(0, 10).filter(_plain_label_ok)
)
"""An ASCII letters-digits-hyphens label, 1 to 12 characters."""

long_labels: st.SearchStrategy[str] = _ldh(59, 61).filter(_plain_label_ok)
"""A label at or near the 63-character limit."""


def _a_label(u_label: str) -> str:
    return idna.encode(u_label, uts46=True).decode("ascii")


idn_labels: st.SearchStrategy[str] = st.text(alphabet="abcdeäöüéñß", min_size=1, max_size=8).map(
    _a_label
)
"""A label as an IDN A-label (`xn--...`) when it holds non-ASCII letters, else ASCII."""

labels: st.SearchStrategy[str] = st.one_of(ldh_labels, idn_labels, ldh_labels, long_labels)

top_level_labels: st.SearchStrategy[str] = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=6
)
"""A top-level label: letters only (a numeric TLD would make the name look like an IP)."""


@st.composite
def hostnames(draw: st.DrawFn, min_labels: int = 2, max_labels: int = 4) -> str:
    """A lower-case host name in A-labels with `min_labels`..`max_labels` labels."""
    count = draw(st.integers(min_labels, max_labels))
    head = draw(st.lists(labels, min_size=count - 1, max_size=count - 1))
    return ".".join([*head, draw(top_level_labels)])


@st.composite
def mx_patterns(draw: st.DrawFn) -> str:
    """A normalised mx pattern: a host name, or `*.` plus a host name of 2+ labels."""
    if draw(st.booleans()):
        return "*." + draw(hostnames(min_labels=2, max_labels=3))
    return draw(hostnames(min_labels=2, max_labels=4))


modes: st.SearchStrategy[Mode] = st.sampled_from(list(Mode))
max_ages: st.SearchStrategy[int] = st.one_of(
    st.integers(0, MAX_AGE_LIMIT), st.sampled_from([0, 86_400, 1_209_600, MAX_AGE_LIMIT])
)


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    """A valid policy: any mode, max_age 0..31557600, 1-10 mx patterns (0-10 for none)."""
    mode = draw(modes)
    minimum = 0 if mode is Mode.NONE else 1
    mx = draw(st.lists(mx_patterns(), min_size=minimum, max_size=10))
    return Policy(mode=mode, max_age=draw(max_ages), mx=tuple(mx))


policy_ids: st.SearchStrategy[str] = st.text(
    alphabet=_ALNUM + "ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=32
)
"""A legal `_mta-sts` id: 1-32 letters and digits."""

# --- TLS-RPT destinations ---------------------------------------------------------------

_MUST_ENCODE = {",": "%2C", "!": "%21", ";": "%3B"}
"""The characters RFC 8460 section 3 requires percent-encoded inside a rua URI."""

_pct_triplets = st.sampled_from(["%2F", "%40", "%7E", "%41", "%2c"])
_mailto_atom_chars = st.sampled_from(
    list("abcdefghijklmnopqrstuvwxyzABCDEFXYZ0123456789-_~$&'()*+=") + list(_MUST_ENCODE)
)
_path_chars = st.sampled_from(
    list("abcdefxyzABCXYZ0123456789-._~$&'()*+=:@/?") + list(_MUST_ENCODE)
)


@st.composite
def _mailto_local_parts(draw: st.DrawFn) -> str:
    atom = st.lists(st.one_of(_mailto_atom_chars, _pct_triplets), min_size=1, max_size=8).map(
        "".join
    )
    return ".".join(draw(st.lists(atom, min_size=1, max_size=3)))


@st.composite
def rua_uris(draw: st.DrawFn) -> str:
    """A raw report URI as a spec author writes it: `,` `!` `;` not yet percent-encoded.

    Only characters every oracle accepts: dot-atom mailto local parts (no `?` header
    fields), https paths of RFC 3986 path characters.
    """
    if draw(st.booleans()):
        return f"mailto:{draw(_mailto_local_parts())}@{draw(hostnames())}"
    path = "".join(draw(st.lists(st.one_of(_path_chars, _pct_triplets), max_size=20)))
    port = draw(st.sampled_from(["", ":443", ":8443"]))
    return f"https://{draw(hostnames())}{port}/{path}"


def encoded(uri: str) -> str:
    """What the record must carry for a raw URI: `,` `!` `;` percent-encoded, nothing else."""
    return "".join(_MUST_ENCODE.get(ch, ch) for ch in uri)


rua_lists: st.SearchStrategy[list[str]] = st.lists(rua_uris(), min_size=1, max_size=5)

# --- TXT values -------------------------------------------------------------------------

txt_values: st.SearchStrategy[str] = st.one_of(
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=800),
    st.integers(0, 4).flatmap(
        lambda n: st.text(alphabet="ab", min_size=max(0, 255 * n - 1), max_size=255 * n + 1)
    ),
)
"""ASCII TXT values, including lengths at and around multiples of 255 bytes."""
