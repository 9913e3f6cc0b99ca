"""The dialect's markup, as patterns shared by the reading and the converting steps."""

from __future__ import annotations

import re

FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
HTML_HEADING = re.compile(r"^\s*<h([1-6])\b([^>]*)>(.*)$", re.IGNORECASE)
TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9]*)((?:\s[^<>]*?)?)\s*(/?)>")
LINK = re.compile(r"(!?)\[((?:[^\[\]\\]|\\.|\[[^\[\]]*\])*)\]\(([^()\s]*(?:\([^()]*\)[^()\s]*)*|<[^<>]*>)"
                  r"(?:\s+(\"[^\"]*\"|'[^']*'))?\s*\)")
# An image path with spaces is not CommonMark, but GitHub shows it, so the authors relied on it.
LINK_OR_IMAGE = re.compile(LINK.pattern + r"|!\[(?P<loose_alt>[^\[\]]*)\]\((?P<loose>[^()]*?)\)")
