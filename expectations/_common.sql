-- Macros every gate suite may use; the gate runs this file before the
-- suite's own SQL (plugins/renkei/gate.py).

-- 保険者番号: Luhn over the first seven digits (DOMAIN.md section 2).
create or replace temp macro luhn_double(d) as
    case when d * 2 > 9 then d * 2 - 9 else d * 2 end;
create or replace temp macro digit_at(s, i) as
    cast(substr(s, i, 1) as integer);
create or replace temp macro insurer_number_ok(s) as
    regexp_full_match(s, '[0-9]{8}')
    and (
        10 - (
            luhn_double(digit_at(s, 7)) + digit_at(s, 6)
            + luhn_double(digit_at(s, 5)) + digit_at(s, 4)
            + luhn_double(digit_at(s, 3)) + digit_at(s, 2)
            + luhn_double(digit_at(s, 1))
        ) % 10
    ) % 10 = digit_at(s, 8);

-- 個人番号 (My Number): digits 1-11 weighted 6,5,4,3,2,7,6,5,4,3,2 from
-- the left; r = sum mod 11; the check digit is 0 when r <= 1, else
-- 11 - r (総務省令第85号 第5条, DOMAIN.md section 2). try_cast keeps a
-- value that is not 12 digits false instead of an error.
create or replace temp macro my_number_digit(s, i) as
    try_cast(substr(s, i, 1) as integer);
create or replace temp macro my_number_remainder(s) as (
    6 * my_number_digit(s, 1) + 5 * my_number_digit(s, 2)
    + 4 * my_number_digit(s, 3) + 3 * my_number_digit(s, 4)
    + 2 * my_number_digit(s, 5) + 7 * my_number_digit(s, 6)
    + 6 * my_number_digit(s, 7) + 5 * my_number_digit(s, 8)
    + 4 * my_number_digit(s, 9) + 3 * my_number_digit(s, 10)
    + 2 * my_number_digit(s, 11)
) % 11;
create or replace temp macro my_number_ok(s) as
    coalesce(
        regexp_full_match(s, '[0-9]{12}')
        and case
            when my_number_remainder(s) <= 1 then 0
            else 11 - my_number_remainder(s)
        end = my_number_digit(s, 12),
        false
    );

-- 保険者番号 digits 1-2 are the 法別番号 (never 00), digits 3-4 the
-- prefecture (01-47).
create or replace temp macro insurer_prefecture_unknown(s) as
    substr(s, 1, 2) = '00'
    or substr(s, 3, 2) not between '01' and '47';
