"""Bytes -> str for HTML pages, never trusting a declared charset blindly.

Order: BOM; the HTTP header charset; the page's own <meta charset>/http-equiv (or XML declaration) near the top.
A declared charset is verified: if the bytes do not decode cleanly with it (or are valid UTF-8 with non-ASCII
content while the declaration says otherwise), we detect instead: strict UTF-8 first, then charset-normalizer.
Chinese legacy names are widened to their supersets (gb2312/gbk -> gb18030, big5 -> big5hkscs). An undeclared page
the detector cannot place, or places in a single-byte code page, is tried as GB18030 and Big5: when one decodes it
with very few errors into mostly common Chinese characters, that one is used. Never raises: the last resort is
UTF-8 with replacement characters.
"""

from __future__ import annotations

import codecs
import re

META_SCAN_BYTES = 8192  # where to look for <meta charset> / <?xml encoding>
DETECT_SAMPLE_BYTES = 200_000  # charset-normalizer only needs a sample
MAX_BAD_RATIO = 0.005  # share of non-ASCII bytes that may be undecodable (real GBK pages have stray bytes)
_ASCII = bytes(range(128))

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_META = re.compile(
    rb"""<meta[^>]+?charset\s*=\s*["']?\s*([a-zA-Z0-9_\-.:]+)"""
    rb"""|<\?xml[^>]+encoding\s*=\s*["']([a-zA-Z0-9_\-.:]+)""",
    re.IGNORECASE,
)
# Legacy names -> the superset browsers actually use.
_WIDEN = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "gb_2312-80": "gb18030",
    "gb_2312": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "ms936": "gb18030",
    "euc-cn": "gb18030",
    "hz-gb-2312": "gb18030",
    "big5": "big5hkscs",
    "big5-hkscs": "big5hkscs",
    "x-x-big5": "big5hkscs",
    "cp950": "big5hkscs",
    "iso-8859-1": "cp1252",  # WHATWG: latin-1 labels mean windows-1252
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "shift_jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "euc-kr": "cp949",
    "ks_c_5601-1987": "cp949",
    "utf8": "utf-8",
    "unicode": "utf-8",  # pages declaring "unicode" are nearly always UTF-8 bytes
}


def normalize_charset(name: str | None) -> str | None:
    """A Python codec name for a declared charset label, widened to its superset; None if unknown."""
    if not name:
        return None
    label = name.strip().strip("\"'").lower()
    label = _WIDEN.get(label, label)
    try:
        codec = codecs.lookup(label).name
    except LookupError:
        return None
    if codec in ("utf-16", "utf-16-le", "utf-16-be", "utf-32"):  # a meta tag in ASCII cannot be UTF-16
        return "utf-8"
    return _WIDEN.get(codec, codec)


def sniff_meta_charset(raw: bytes) -> str | None:
    """The charset label a page declares in its first bytes (meta charset, http-equiv or XML declaration)."""
    match = _META.search(raw[:META_SCAN_BYTES])
    if not match:
        return None
    return (match.group(1) or match.group(2)).decode("ascii", "ignore")


def _strict(raw: bytes, codec: str) -> str | None:
    try:
        return raw.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _mostly_clean(raw: bytes, codec: str, ratio: float = MAX_BAD_RATIO, allowed: int = 1) -> str | None:
    """Decode with replacement, accepted only if bad bytes are a tiny share of the non-ASCII ones
    (stray bytes, a cut-off tail), so a legacy page is never read as UTF-8 with holes."""
    try:
        text = raw.decode(codec, errors="replace")
    except LookupError:
        return None
    bad = text.count("\ufffd") - raw.count(b"\xef\xbf\xbd")  # U+FFFD genuinely in a UTF-8 page is no error
    non_ascii = len(raw.translate(None, _ASCII))
    return text if bad <= max(allowed, non_ascii * ratio) else None


def _detect(raw: bytes) -> str | None:
    """charset-normalizer's best guess on a sample, widened; None for binary or undecidable input."""
    from charset_normalizer import from_bytes  # here: most pages never need it (~10 ms to import)

    sample = raw[:DETECT_SAMPLE_BYTES]
    try:
        best = from_bytes(sample).best()
    except Exception:  # the detector is a heuristic; a failure in it must not fail the page  # noqa: BLE001
        return None
    return normalize_charset(best.encoding) if best is not None else None


def decode_html(raw: bytes, declared: str | None = None) -> str:
    """Decode an HTML page; `declared` is the HTTP Content-Type charset, if any."""
    if not raw:
        return ""
    for bom, codec in _BOMS:
        if raw.startswith(bom):
            return raw[len(bom) :].decode(codec, errors="replace")

    is_ascii = raw.isascii()
    utf8 = None if is_ascii else _strict(raw, "utf-8")
    codec = normalize_charset(declared) or normalize_charset(sniff_meta_charset(raw))
    if codec is not None:
        if is_ascii:
            return raw.decode(codec, errors="replace")
        if utf8 is not None:  # valid UTF-8 with non-ASCII bytes is almost never a legacy encoding
            return utf8
        if codec != "utf-8":
            text = _strict(raw, codec) or _mostly_clean(raw, codec)
            if text is not None:
                return text
        # the declaration does not fit the bytes: detect

    if is_ascii:
        return raw.decode("ascii")
    if utf8 is not None:
        return utf8
    # Mostly-UTF-8 pages with a few broken bytes are common; prefer them over a wild guess.
    text = _mostly_clean(raw, "utf-8")
    if text is not None:
        return text
    codec = _detect(raw)
    if codec not in _MULTIBYTE:  # no guess, or a single-byte code page (which decodes any bytes): Chinese?
        text = _chinese(raw)
        if text is not None:
            return text
    if codec:
        text = _strict(raw, codec) or _mostly_clean(raw, codec)
        if text is not None:
            return text
    return raw.decode("utf-8", errors="replace")


_MULTIBYTE = frozenset(("gb18030", "big5hkscs", "cp932", "shift_jis", "euc_jp", "cp949", "euc_kr", "iso2022_jp",
                        "utf-8", "utf_16", "utf_32"))
# Characters frequent in Chinese text, simplified and traditional: right-decoded text is full of them, GB18030
# bytes read as Big5 (or the other way round) give other, rare characters.
_COMMON_HAN = frozenset(
    "的一是不了在人有我他这這个個们們中来來上大为為和国國地到以说說时時要就出会會可也你对對生能而子那得于於着著下自之"
    "年过過发發后後作里裡用道行所然家种種事成方多经經去法学學如都同现現当當没沒动動面起看定天分还還进進好小部其些主"
    "样樣理心本前开開但因只从從想实實日新月市政府公司今北京台湾灣表示将將已及与與据據"
)
CHINESE_BAD_RATIO, CHINESE_BAD_BYTES = 0.01, 4  # (a looser bound: the characters found are checked too)
MIN_COMMON_SHARE = 0.08  # share of these among the Han characters of a right decoding (typically 0.2 to 0.35)
MIN_HAN_SHARE = 0.3  # share of Han characters among the non-ASCII ones


def _chinese(raw: bytes) -> str | None:
    """The page as GB18030 or Big5 when it decodes so with very few errors into mostly Chinese text (a GBK
    page with a stray byte and no charset is not a Cyrillic page); the better of the two; None otherwise."""
    best, best_share = None, MIN_COMMON_SHARE
    sample = raw[:DETECT_SAMPLE_BYTES]
    for codec in ("gb18030", "big5hkscs"):
        text = _mostly_clean(sample, codec, CHINESE_BAD_RATIO, CHINESE_BAD_BYTES)
        if text is None:
            continue
        han = [ch for ch in text if "\u4e00" <= ch <= "\u9fff"]
        non_ascii = sum(1 for ch in text if ord(ch) > 127)
        if not han or len(han) < MIN_HAN_SHARE * non_ascii:
            continue
        share = sum(1 for ch in han if ch in _COMMON_HAN) / len(han)
        if share > best_share:
            best, best_share = codec, share
    if best is None:
        return None
    return _strict(raw, best) or _mostly_clean(raw, best, CHINESE_BAD_RATIO, CHINESE_BAD_BYTES)
