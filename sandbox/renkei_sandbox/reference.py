"""Small reference tables the simulated insurer needs: prefectures and the 50-grade table.

These live with the sandbox, not in ``plugins/renkei``: they describe the *insurer's* own
system that produces the extract. Production code reads amounts from dbt seeds (DOMAIN.md
section 3); the sandbox only needs them to produce plausible values.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import NamedTuple


class Prefecture(NamedTuple):
    code: str           # 2-digit JIS X 0401 code, also the 都道府県 part of the 保険者番号
    name: str
    population_k: int   # 2015 census, thousands: weights branch sizes, nothing more


# Approximate 2015 census populations. Only the relative sizes matter (Tokyo, Kanagawa, Osaka
# and Aichi large, Tottori smallest), so round numbers are fine.
PREFECTURES: tuple[Prefecture, ...] = (
    Prefecture("01", "北海道", 5382), Prefecture("02", "青森県", 1308),
    Prefecture("03", "岩手県", 1280), Prefecture("04", "宮城県", 2334),
    Prefecture("05", "秋田県", 1023), Prefecture("06", "山形県", 1124),
    Prefecture("07", "福島県", 1914), Prefecture("08", "茨城県", 2917),
    Prefecture("09", "栃木県", 1974), Prefecture("10", "群馬県", 1973),
    Prefecture("11", "埼玉県", 7267), Prefecture("12", "千葉県", 6223),
    Prefecture("13", "東京都", 13515), Prefecture("14", "神奈川県", 9126),
    Prefecture("15", "新潟県", 2304), Prefecture("16", "富山県", 1066),
    Prefecture("17", "石川県", 1154), Prefecture("18", "福井県", 787),
    Prefecture("19", "山梨県", 835), Prefecture("20", "長野県", 2099),
    Prefecture("21", "岐阜県", 2032), Prefecture("22", "静岡県", 3700),
    Prefecture("23", "愛知県", 7483), Prefecture("24", "三重県", 1816),
    Prefecture("25", "滋賀県", 1413), Prefecture("26", "京都府", 2610),
    Prefecture("27", "大阪府", 8839), Prefecture("28", "兵庫県", 5535),
    Prefecture("29", "奈良県", 1364), Prefecture("30", "和歌山県", 964),
    Prefecture("31", "鳥取県", 573), Prefecture("32", "島根県", 694),
    Prefecture("33", "岡山県", 1922), Prefecture("34", "広島県", 2844),
    Prefecture("35", "山口県", 1405), Prefecture("36", "徳島県", 756),
    Prefecture("37", "香川県", 976), Prefecture("38", "愛媛県", 1385),
    Prefecture("39", "高知県", 728), Prefecture("40", "福岡県", 5102),
    Prefecture("41", "佐賀県", 833), Prefecture("42", "長崎県", 1377),
    Prefecture("43", "熊本県", 1786), Prefecture("44", "大分県", 1166),
    Prefecture("45", "宮崎県", 1104), Prefecture("46", "鹿児島県", 1648),
    Prefecture("47", "沖縄県", 1434),
)


class Grade(NamedTuple):
    grade: int
    amount: int   # 標準報酬月額 (yen)
    lower: int    # lowest monthly pay that falls into this grade (yen)


# 健康保険 標準報酬月額, 50 grades in force since 2016-04 (DOMAIN.md 3.8). Grade 1 has no lower
# bound in law ("below 63,000"); 0 stands for that.
_GRADE_ROWS = (
    (1, 58_000, 0), (2, 68_000, 63_000), (3, 78_000, 73_000), (4, 88_000, 83_000),
    (5, 98_000, 93_000), (6, 104_000, 101_000), (7, 110_000, 107_000), (8, 118_000, 114_000),
    (9, 126_000, 122_000), (10, 134_000, 130_000), (11, 142_000, 138_000),
    (12, 150_000, 146_000), (13, 160_000, 155_000), (14, 170_000, 165_000),
    (15, 180_000, 175_000), (16, 190_000, 185_000), (17, 200_000, 195_000),
    (18, 220_000, 210_000), (19, 240_000, 230_000), (20, 260_000, 250_000),
    (21, 280_000, 270_000), (22, 300_000, 290_000), (23, 320_000, 310_000),
    (24, 340_000, 330_000), (25, 360_000, 350_000), (26, 380_000, 370_000),
    (27, 410_000, 395_000), (28, 440_000, 425_000), (29, 470_000, 455_000),
    (30, 500_000, 485_000), (31, 530_000, 515_000), (32, 560_000, 545_000),
    (33, 590_000, 575_000), (34, 620_000, 605_000), (35, 650_000, 635_000),
    (36, 680_000, 665_000), (37, 710_000, 695_000), (38, 750_000, 730_000),
    (39, 790_000, 770_000), (40, 830_000, 810_000), (41, 880_000, 855_000),
    (42, 930_000, 905_000), (43, 980_000, 955_000), (44, 1_030_000, 1_005_000),
    (45, 1_090_000, 1_055_000), (46, 1_150_000, 1_115_000), (47, 1_210_000, 1_175_000),
    (48, 1_270_000, 1_235_000), (49, 1_330_000, 1_295_000), (50, 1_390_000, 1_355_000),
)
GRADES: dict[int, Grade] = {g: Grade(g, amount, lower) for g, amount, lower in _GRADE_ROWS}
MIN_GRADE, MAX_GRADE = 1, 50
_LOWERS = [row[2] for row in _GRADE_ROWS]


def grade_for_pay(monthly_pay: int) -> int:
    """The grade whose pay range contains ``monthly_pay`` (how the insurer assigns a grade)."""
    return max(MIN_GRADE, bisect_right(_LOWERS, monthly_pay))


def amount_for_grade(grade: int) -> int:
    return GRADES[grade].amount
