"""Columns as PostgreSQL array literals: the text SQL casts to an array, element for element."""

from decimal import Decimal

from ohlcv_collector.backends.storage.array_literals import (
    number_array,
    optional_number_array,
    text_array,
)


def test_no_values_make_an_empty_array_and_an_empty_text_makes_one_element() -> None:
    assert text_array([]) == "{}"
    assert text_array(()) == "{}"
    assert text_array([""]) == '{""}'
    assert number_array([]) == "{}"
    assert optional_number_array([]) == "{}"


def test_text_that_array_syntax_uses_is_quoted_and_escaped() -> None:
    assert text_array(["a,b", "{c}", "NULL", 'say "hi"', "back\\slash", "line\nbreak"]) == (
        '{"a,b","{c}","NULL","say \\"hi\\"","back\\\\slash","line\nbreak"}'
    )


def test_numbers_keep_their_exact_text_and_none_is_null() -> None:
    assert number_array([1, Decimal("0.00012000"), Decimal("1E-8")]) == "{1,0.00012000,1E-8}"
    assert optional_number_array([3, None]) == "{3,NULL}"
