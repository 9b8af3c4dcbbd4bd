"""Outside text made safe to show: control and invisible characters become visible escapes.

Most of what mtasts prints was written by someone else: live TXT values (DNS, provider
APIs, the local tree), a policy server's status line, `Location` and `Content-Type`, SMTP
banners, provider error messages. A terminal obeys the escape sequences in such text (clear
the screen, retitle the window, move the cursor up and print a fake "No changes" or
"PASS" line), a bare newline starts a forged line of output, and bidi overrides (U+202E)
or zero-width characters make a value read differently from what it is.

So every renderer that shows text (the terminal's, the Markdown comment's, the check
reports', the CLI's error and warning lines) passes each outside string through
`printable` before any formatting of its own. JSON output does not: `json.dumps` already
escapes control characters and a machine needs the exact value.

The rule is Python's own: a character is shown as it is when `str.isprintable()` accepts it,
otherwise as the escape `repr()` would use (`\\x1b`, `\\n`, `\\u202e`). That covers C0,
DEL, C1, line and paragraph separators, format characters (bidi controls U+200E/F,
U+202A-E, U+2066-9, zero-width U+200B-D, U+2060, U+FEFF, soft hyphen), non-ASCII spaces,
lone surrogates (which would otherwise crash the encoder), private use and unassigned code
points. A backslash is left alone: the point is that nothing is hidden or obeyed, not that
the display can be parsed back.
"""

from __future__ import annotations

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: object) -> str:
    """`text` as a string in which every character shows as itself or as a visible escape."""
    value = str(text)
    if value.isprintable():
        return value
    return "".join(char if char.isprintable() else _escape(char) for char in value)


def _escape(char: str) -> str:
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"
