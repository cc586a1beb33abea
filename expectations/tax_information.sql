-- Gate checks for one staged tax information file (TAX_FY<YYYY>.csv),
-- computed inside DuckDB; see expectations/eligibility_extract.sql for
-- how the gate uses `gate_flags`. Variable set by the gate: fiscal_year
-- (the year the file name says).

create or replace temp view gate_flags as
select
    record_no,
    -- critical
    count(*) over (partition by member_token, fiscal_year) > 1
        as duplicate_member_fiscal_year,
    not insurer_number_ok(insurer_number) as invalid_insurer_number,
    insurer_prefecture_unknown(insurer_number) as unknown_insurer_prefecture,
    fiscal_year <> cast(getvariable('fiscal_year') as integer)
        as fiscal_year_differs_from_file_name,
    -- 住民税 of fiscal year N is fixed in June of year N: an answer
    -- received before that cannot be final
    received_on < make_date(fiscal_year, 6, 1) as received_before_assessment,
    -- warning
    income_yen > revenue_yen as income_exceeds_revenue,
    coalesce(pension_income_yen, 0)
        > coalesce(public_pension_revenue_yen, 0)
        as pension_income_exceeds_pension_revenue,
    pension_income_yen > income_yen as pension_income_exceeds_income,
from staged;
