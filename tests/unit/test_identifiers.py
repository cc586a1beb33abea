from hypothesis import given
from hypothesis import strategies as st
from stdnum import luhn
from stdnum.jp import in_

from renkei.identifiers import (
    insurer_number,
    is_valid_insurer_number,
    is_valid_my_number,
    my_number_with_check_digit,
)


def test_known_insurer_numbers():
    # DOMAIN.md section 2: 協会けんぽ Tokyo and Miyagi.
    assert insurer_number("01", "13", "001") == "01130012"
    assert insurer_number("01", "04", "001") == "01040013"
    assert is_valid_insurer_number("01130012")
    assert not is_valid_insurer_number("01130013")
    assert not is_valid_insurer_number("0113001")
    assert not is_valid_insurer_number("０１１３００１２")


def test_insurer_check_digit_by_hand():
    # 0113001: from the right 1x2=2, 0x1=0, 0x2=0, 3x1=3, 1x2=2, 1x1=1, 0x2=0 -> sum 8;
    # check = (10 - 8 % 10) % 10 = 2.
    assert insurer_number("01", "13", "001")[-1] == "2"


def test_known_my_numbers():
    assert is_valid_my_number("123456789018")
    assert is_valid_my_number("983205673214")
    assert not is_valid_my_number("123456789019")
    assert not is_valid_my_number("１２３４５６７８９０１８")  # full-width digits
    assert not is_valid_my_number("12345678901")


def _weighted_check(body: str) -> str:
    # 総務省令第85号 第5条, written out independently of the library.
    weights = (6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
    r = sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11
    return "0" if r <= 1 else str(11 - r)


@given(st.text(alphabet="0123456789", min_size=11, max_size=11))
def test_my_number_check_digit_matches_stdnum_and_the_rule(body):
    full = my_number_with_check_digit(body)
    assert full[-1] == _weighted_check(body) == in_.calc_check_digit(body)
    assert is_valid_my_number(full)
    wrong = full[:-1] + str((int(full[-1]) + 1) % 10)
    assert not is_valid_my_number(wrong)


@given(st.text(alphabet="0123456789", min_size=7, max_size=7))
def test_insurer_number_check_digit_matches_luhn(body):
    num = insurer_number(body[:2], body[2:4], body[4:])
    assert luhn.is_valid(num)
    assert is_valid_insurer_number(num)
    assert not is_valid_insurer_number(num[:-1] + str((int(num[-1]) + 1) % 10))
