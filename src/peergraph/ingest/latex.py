"""LaTeX → Unicode for the text BibTeX and arXiv carry (accents, special letters, braces).

Covers the accent commands and special letters that appear in names and titles
(``Bal\\'azs`` → ``Balázs``, ``{\\"o}``, ``\\c{c}``, ``\\v s``, ``\\ss``, ``\\o``), drops
case-protecting braces, and leaves maths (``$...$``) alone.
"""

from __future__ import annotations

import re
import unicodedata

_SYMBOL_ACCENTS = {
    "'": "\u0301",
    "`": "\u0300",
    "^": "\u0302",
    '"': "\u0308",
    "~": "\u0303",
    "=": "\u0304",
    ".": "\u0307",
}
_LETTER_ACCENTS = {
    "u": "\u0306",
    "v": "\u030c",
    "H": "\u030b",
    "c": "\u0327",
    "k": "\u0328",
    "r": "\u030a",
    "d": "\u0323",
    "b": "\u0331",
}
_SPECIAL_LETTERS = {
    "ss": "ß",
    "o": "ø",
    "O": "Ø",
    "l": "ł",
    "L": "Ł",
    "ae": "æ",
    "AE": "Æ",
    "oe": "œ",
    "OE": "Œ",
    "aa": "å",
    "AA": "Å",
    "i": "ı",
    "j": "ȷ",
}
_ESCAPES = {"&": "&", "%": "%", "$": "$", "_": "_", "#": "#", "{": "{", "}": "}"}

_BASE = r"(?:\\([ij])(?![A-Za-z])|([A-Za-z]))"
_SYMBOL_RE = re.compile(
    r"\\(["
    + re.escape("".join(_SYMBOL_ACCENTS))
    + r"])\s*(?:\{\s*"
    + _BASE
    + r"\s*\}|"
    + _BASE
    + ")"
)
_LETTER_RE = re.compile(
    r"\\([" + "".join(_LETTER_ACCENTS) + r"])(?:\s*\{\s*" + _BASE + r"\s*\}|\s+" + _BASE + ")"
)
_SPECIAL_RE = re.compile(r"\\(ss|ae|AE|oe|OE|aa|AA|o|O|l|L|i|j)(?![A-Za-z])(?:\s*\{\})?\s?")
_ESCAPE_RE = re.compile(r"\\([&%$_#{}])")
_FORMAT_RE = re.compile(
    r"\\(?:textbf|textit|textsl|textsc|texttt|textrm|textsf|emph|mbox|text|uppercase)\s*\{([^{}]*)\}"
)
_BRACE_RE = re.compile(r"(?<!\\)[{}]")
_WS = re.compile(r"\s+")


def _accent(combining: str, match: re.Match[str], first: int) -> str:
    dotless, letter = match.group(first), match.group(first + 1)
    if dotless is None and letter is None:
        dotless, letter = match.group(first + 2), match.group(first + 3)
    base = dotless if dotless is not None else letter
    return unicodedata.normalize("NFC", base + combining)


def latex_to_unicode(text: str) -> str:
    if "\\" not in text and "{" not in text and "~" not in text and "--" not in text:
        return text
    out = _SYMBOL_RE.sub(lambda m: _accent(_SYMBOL_ACCENTS[m.group(1)], m, 2), text)
    out = _LETTER_RE.sub(lambda m: _accent(_LETTER_ACCENTS[m.group(1)], m, 2), out)
    out = _SPECIAL_RE.sub(lambda m: _SPECIAL_LETTERS[m.group(1)], out)
    for _ in range(3):  # nested formatting commands
        new = _FORMAT_RE.sub(r"\1", out)
        if new == out:
            break
        out = new
    out = _BRACE_RE.sub("", out)
    out = _ESCAPE_RE.sub(lambda m: _ESCAPES[m.group(1)], out)
    if "$" not in out:  # outside maths, ~ is a non-breaking space and -- an en dash
        out = out.replace("~", " ").replace("---", "—").replace("--", "–")
    return unicodedata.normalize("NFC", _WS.sub(" ", out).strip())
