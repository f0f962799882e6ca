"""The shingle metric, against hand-computed cases."""

import pytest

from newsmirror.extract.metric import page_counts, precision, recall, score, shingles


def test_shingles_of_four_tokens_multiset():
    assert shingles("a b c d e") == {("a", "b", "c", "d"): 1, ("b", "c", "d", "e"): 1}
    assert shingles("x x x x x") == {("x", "x", "x", "x"): 2}
    # punctuation is not a token; \w is Unicode
    assert shingles("Çà, va? Très—bien!") == {("Çà", "va", "Très", "bien"): 1}


def test_short_and_empty_texts():
    assert shingles("one two") == {("one", "two"): 1}
    assert shingles("") == {} and shingles("!!") == {}


def test_identical_page():
    counts = page_counts("a b c d e", "a b c d e")
    assert counts == (1.0, 0.0, 0.0)
    assert precision(counts) == recall(counts) == 1.0


def test_partial_overlap_hand_computed():
    # truth shingles: abcd bcde cdef (3); prediction: abcd bcde cdex dexy (4)
    # tp = 2, fp = 2, fn = 1 -> normalised by 5
    tp, fp, fn = page_counts("a b c d e f", "a b c d e x y")
    assert (tp, fp, fn) == pytest.approx((0.4, 0.4, 0.2))
    assert precision((tp, fp, fn)) == pytest.approx(0.5)
    assert recall((tp, fp, fn)) == pytest.approx(2 / 3)


def test_multiset_counts_repeats():
    # truth has "w w w w" twice, prediction once: tp 1, fn 1
    assert page_counts("w w w w w", "w w w w") == pytest.approx((0.5, 0.0, 0.5))


def test_empty_prediction_enters_recall_only():
    empty = page_counts("a b c d", "")
    assert empty == (0.0, 0.0, 1.0)
    perfect = page_counts("a b c d e", "a b c d e")
    result = score([empty, perfect])
    assert result.precision == 1.0  # the empty prediction is not in the precision mean
    assert result.recall == 0.5
    assert result.f1 == pytest.approx(2 * 1.0 * 0.5 / 1.5)


def test_means_then_f1():
    a = page_counts("a b c d e f", "a b c d e x y")  # P 1/2, R 2/3
    b = page_counts("a b c d e", "a b c d e")  # P 1, R 1
    result = score([a, b])
    assert result.precision == pytest.approx(0.75)
    assert result.recall == pytest.approx(5 / 6)
    assert result.f1 == pytest.approx(2 * 0.75 * (5 / 6) / (0.75 + 5 / 6))
    assert result.pages == 2


def test_nothing_on_either_side():
    counts = page_counts("", "")
    assert counts == (0.0, 0.0, 0.0)
    assert precision(counts) == recall(counts) == 1.0
    assert score([counts]).f1 == 0.0  # no page enters either mean
