-- Gate checks for one staged 基準収入額 application file
-- (KIJUN_<YYYYMM>.csv), computed inside DuckDB; see
-- expectations/eligibility_extract.sql for how the gate uses `gate_flags`.
-- Variables set by the gate: period_start, period_end (the file's month).

create or replace temp view gate_flags as
select
    record_no,
    -- critical
    count(*) over (partition by member_token) > 1 as duplicate_applicant,
    not insurer_number_ok(insurer_number) as invalid_insurer_number,
    insurer_prefecture_unknown(insurer_number) as unknown_insurer_prefecture,
    applied_on not between cast(getvariable('period_start') as date)
        and cast(getvariable('period_end') as date)
        as applied_outside_file_month,
    -- only the insured person (枝番 00) applies for the household
    branch_number <> '00' as applicant_is_not_insured_person,
from staged;
