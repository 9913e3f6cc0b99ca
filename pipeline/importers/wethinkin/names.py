"""What identifies a heading across its spellings: number, title key, anchor key, stable digests."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from urllib.parse import unquote

# A question number at the start of a heading: "12.标题", "3、标题", "问题4：标题", "问题5. 标题".
NUMBER = re.compile(r"^\s*(?:问题\s*(?P<q>\d+)\s*[：:.．、]?|(?P<n>\d+)\s*[.、．])\s*")


def question_number(text: str) -> int | None:
    match = NUMBER.match(text)
    if match is None:
        return None
    return int(match.group("q") or match.group("n"))


def is_wenti(text: str) -> bool:
    """``问题N``: the dialect's explicit question heading."""
    return bool(re.match(r"^\s*问题\s*\d", text))


def without_number(text: str) -> str:
    return NUMBER.sub("", text, count=1).strip()


def normal_title(title: str) -> str:
    """What identifies a question: its title without width, case, spacing or punctuation."""
    text = unicodedata.normalize("NFKC", title).casefold()
    return "".join(ch for ch in text if ch.isalnum())


def anchor_key(anchor: str) -> str:
    """What an in-page anchor (``#1.标题``, ``#user-content-…``) and a heading have in common."""
    text = unquote(anchor).removeprefix("user-content-")
    return normal_title(text)


def heading_keys(text: str, anchor: str = "") -> frozenset[str]:
    """Every key a table-of-contents entry may share with a heading: with and without its number."""
    keys = {anchor_key(anchor), anchor_key(text), normal_title(without_number(text))}
    return frozenset(k for k in keys if k)


def digest(text: str, length: int) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:length]
