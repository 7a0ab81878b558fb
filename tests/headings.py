"""Markdown headings of a rendered card or a template, for the tests that compare their sections."""

from __future__ import annotations

import re

from segaudit.cards.front_matter import parse_front_matter


def headings(markdown: str) -> list[str]:
    """ATX headings outside front matter, HTML comments and code fences, whitespace normalised."""
    if markdown.startswith("---\n"):
        markdown = parse_front_matter(markdown)[1]
    markdown = re.sub(r"<!--.*?-->", "", markdown, flags=re.S)
    markdown = re.sub(r"```.*?```", "", markdown, flags=re.S)
    return [" ".join(line.split()) for line in markdown.splitlines() if re.match(r"#{1,6} ", line)]


def missing_in_order(expected: list[str], got: list[str]) -> list[str]:
    """The headings of `expected` that `got` lacks in that order (empty: `expected` is a subsequence of `got`)."""
    rest = iter(got)
    return [h for h in expected if h not in rest]
