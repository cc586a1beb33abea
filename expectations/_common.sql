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

