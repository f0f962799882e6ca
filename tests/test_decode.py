"""decode_html: BOM, declared and meta charsets (verified), detection, never raising."""

import os

import pytest

from newsmirror.extract.decode import decode_html, normalize_charset, sniff_meta_charset

ZH = "<html><body><p>中华人民共和国国务院总理今天在北京会见了来访的客人，双方就共同关心的问题交换了意见。</p></body></html>"
TW = "<html><body><p>臺灣的天氣今天很好，我們一起去臺北看看風景吧。這是繁體中文的測試頁面，謝謝大家。</p></body></html>"
RARE = "<p>镕基与喆、堃、昇、珺、瑄都是常见人名用字，这些字不在GB2312里面，但在GBK和GB18030中存在。</p>"


def test_normalize_widens_legacy_chinese():
    assert normalize_charset("GB2312") == "gb18030"
    assert normalize_charset("gbk") == "gb18030"
    assert normalize_charset("GB_2312-80") == "gb18030"
    assert normalize_charset("Big5") == "big5hkscs"
    assert normalize_charset("no-such-charset") is None


def test_sniff_meta_charset():
    assert sniff_meta_charset(b'<meta charset="GBK">') == "GBK"
    assert sniff_meta_charset(b'<meta http-equiv="Content-Type" content="text/html; charset=big5">') == "big5"
    assert sniff_meta_charset(b'<?xml version="1.0" encoding="utf-8"?><html>') == "utf-8"
    assert sniff_meta_charset(b"<html><body>nothing</body></html>") is None


@pytest.mark.parametrize("bom,codec", [(b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")])
def test_bom_wins(bom, codec):
    assert decode_html(bom + ZH.encode(codec), declared="iso-8859-1") == ZH


def test_gbk_without_any_charset():
    assert decode_html(ZH.encode("gbk")) == ZH


def test_gbk_declared_gb2312_with_characters_outside_gb2312():
    page = '<meta charset="gb2312">' + RARE
    assert decode_html(page.encode("gb18030")) == page
    assert decode_html(RARE.encode("gb18030"), declared="gb2312") == RARE


def test_meta_gb2312_but_bytes_are_utf8():
    page = '<meta charset="gb2312">' + ZH
    assert decode_html(page.encode("utf-8")) == page


def test_header_utf8_but_bytes_are_gbk():
    assert decode_html(ZH.encode("gbk"), declared="utf-8") == ZH


def test_big5_declared_and_detected():
    assert decode_html(TW.encode("big5"), declared="big5") == TW
    assert decode_html(('<meta charset="big5">' + TW).encode("big5")) == '<meta charset="big5">' + TW


def test_utf8_default_and_ascii():
    assert decode_html("<p>café</p>".encode()) == "<p>café</p>"
    assert decode_html(b"<p>plain</p>", declared="utf-8") == "<p>plain</p>"
    assert decode_html(b"") == ""


def test_latin1_label_means_windows_1252():
    assert decode_html("<p>“quoted” – café</p>".encode("cp1252"), declared="iso-8859-1") == "<p>“quoted” – café</p>"


def test_stray_bad_byte_in_declared_gbk_page_keeps_the_charset():
    raw = ZH.encode("gbk") * 20 + b"\xff" + ZH.encode("gbk")
    text = decode_html(raw, declared="gbk")
    assert text.count("中华人民共和国") == 21


def test_garbage_never_raises():
    raw = os.urandom(50_000)
    assert isinstance(decode_html(raw), str)
    assert isinstance(decode_html(raw, declared="gbk"), str)
    assert isinstance(decode_html(b"\x89PNG\r\n\x1a\n" + raw, declared="bogus"), str)


def _stray(raw: bytes) -> bytes:
    """A few invalid bytes between characters (after tags), as a broken CMS leaves them."""
    cut = [i + 1 for i in range(len(raw)) if raw[i : i + 1] == b">"][:3]
    for at in reversed(cut[1:]):
        raw = raw[:at] + b"\xff" + raw[at:]
    return raw


def test_gbk_page_with_stray_bytes_and_no_charset_is_gb18030():
    page = ZH.replace("<p>", "<p>" + RARE[3:40]) * 3
    text = decode_html(_stray(page.encode("gb18030")))
    assert "中华人民共和国国务院总理" in text and text.count("\ufffd") == 2


def test_big5_page_with_stray_bytes_and_no_charset_is_big5():
    text = decode_html(_stray((TW * 4).encode("big5")))
    assert "臺灣的天氣今天很好" in text and text.count("\ufffd") == 2


def test_other_legacy_pages_are_not_read_as_chinese():
    ru = "<p>" + "Президент провёл встречу с членами правительства и обсудил вопросы экономики. " * 10 + "</p>"
    assert decode_html(ru.encode("cp1251")) == ru
    ja = "<p>" + "今日は天気がいいので、友達と一緒に公園へ散歩に行きました。とても楽しかったです。" * 8 + "</p>"
    assert decode_html(ja.encode("shift_jis")) == ja
