"""Check digits of the identifiers the platform handles (DOMAIN.md section 2).

Both rules come from python-stdnum rather than hand-written arithmetic: 保険者番号 uses the
Luhn scheme over its first seven digits, 個人番号 the weighted mod-11 scheme of
総務省令第85号 (``stdnum.jp.in_``).
"""

from __future__ import annotations

from stdnum import luhn
from stdnum.jp import in_ as my_number

# 法別番号 (first two digits of a 保険者番号)
LAW_CODES = {"01": "協会けんぽ (Japan Health Insurance Association)", "06": "健康保険組合"}


def insurer_number(law_code: str, prefecture_code: str, insurer_serial: str) -> str:
    """Build an 8-digit 保険者番号 (法別2 + 都道府県2 + 保険者別3 + check 1)."""
    body = f"{law_code}{prefecture_code}{insurer_serial}"
    if len(body) != 7 or not body.isdigit():
        raise ValueError("保険者番号 body must be 7 digits")
    return body + luhn.calc_check_digit(body)


def is_valid_insurer_number(value: str) -> bool:
    return len(value) == 8 and value.isascii() and value.isdigit() and luhn.is_valid(value)


def my_number_with_check_digit(body11: str) -> str:
    """Append the check digit to an 11-digit body (synthetic numbers only)."""
    return body11 + my_number.calc_check_digit(body11)


def is_valid_my_number(value: str) -> bool:
    """True for 12 ASCII digits with a correct check digit (full-width digits are rejected)."""
    return len(value) == 12 and value.isascii() and value.isdigit() and my_number.is_valid(value)
