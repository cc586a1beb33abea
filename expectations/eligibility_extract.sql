-- Gate checks for one staged eligibility extract, computed inside DuckDB.
--
-- The view `gate_flags` has one row per data record and one boolean
-- column per check (true = the record offends). The gate
-- (plugins/renkei/gate.py) counts each column and keeps the first record
-- numbers, never values, for the operator's message; Great Expectations
-- then evaluates expectations/eligibility_extract.json over the counts.
-- Variables set by the gate: period_start, period_end (first and last day
-- of the month).

-- The month this file is for, set by the gate as variables.
create or replace temp macro period_start() as
    cast(getvariable('period_start') as date);
create or replace temp macro period_end() as
    cast(getvariable('period_end') as date);

-- insurer_number_ok() comes from expectations/_common.sql.

create or replace temp view gate_flags as
select
    record_no,
    -- critical: the file is wrong and nothing of it may be loaded
    count(*) over (partition by member_token) > 1 as duplicate_member_key,
    not insurer_number_ok(insurer_number) as invalid_insurer_number,
    insurer_prefecture_unknown(insurer_number) as unknown_insurer_prefecture,
    birth_date_invalid as invalid_birth_date,
    acquired_date_invalid as invalid_acquired_date,
    lost_date_invalid as invalid_lost_date,
    birth_date > period_end() as born_after_period,
    birth_date < period_end() - interval 120 year
        as born_over_120_years_ago,
    acquired_date < birth_date as acquired_before_birth,
    lost_date <= acquired_date as lost_not_after_acquired,
    acquired_date > period_end() as acquired_after_period,
    lost_date <= period_start() as lost_before_period,
    sex_code not in ('1', '2') as unknown_sex_code,
    relationship_code not in ('1', '2') as unknown_relationship_code,
    grade_code is not null and grade_code not between '01' and '50'
        as unknown_grade_code,
    -- warning: unusual but possible; reported, and the file is loaded
    (relationship_code = '1') <> (branch_number = '00')
        as unusual_branch_number,
    relationship_code = '1' and standard_monthly_remuneration is null
        as insured_without_remuneration,
    relationship_code = '2' and standard_monthly_remuneration is not null
        as dependent_with_remuneration,
    birth_date + interval 75 year <= period_start()
        as aged_75_or_over,
from staged;
