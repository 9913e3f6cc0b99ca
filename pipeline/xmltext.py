"""Characters XML cannot hold: C0 controls other than tab, newline and carriage return, U+FFFE, U+FFFF
and lone surrogates. Every output is XML or carries XHTML (the EPUB, the Anki fields), so the parser
reports them where they are written and removes them: no output ever sees one."""

from __future__ import annotations

import re

# A character class over text, not markup: what XML 1.0 § 2.2 excludes from Char.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def not_xml(text: str) -> list[str]:
    """The distinct characters of ``text`` that XML cannot hold, in order of appearance."""
    return list(dict.fromkeys(_NOT_XML.findall(text)))


def without_not_xml(text: str) -> str:
    """``text`` without the characters XML cannot hold."""
    return _NOT_XML.sub("", text)


def describe(chars: list[str]) -> str:
    """``U+000B, U+001B`` for a diagnostic."""
    return ", ".join(f"U+{ord(c):04X}" for c in chars)
