-- standard_remuneration_grades x high_cost_caps: on every day a grade
-- table is in force, each grade's standard amount falls in exactly one
-- remuneration-decided tier of an age band when it is at or above that
-- band's lowest remuneration_from_yen (under 70: every grade, ア to エ;
-- 70-74: grade 21 and up, 現役並み), and in none below it (70-74 一般 and
-- 低所得 are not decided by remuneration). Catches a tier range that
-- misses a grade, e.g. a typo in remuneration_to_yen. Days are checked
-- where either seed can change. Returns one row per grade, band and day.

with

grades as (

    select * from {{ ref('standard_remuneration_grades') }}

),

caps as (

    select * from {{ ref('high_cost_caps') }}

),

remuneration_tiers as (

    select
        age_band,
        tier_code,
        valid_from,
        valid_to,
        remuneration_from_yen,
        -- an open top compares as the largest integer
        coalesce(remuneration_to_yen, 2147483647) as remuneration_to_yen

    from caps
    where remuneration_from_yen is not null

),

age_bands as (

    select distinct age_band from caps

),

change_days as (

    select valid_from as checked_on from grades
    union
    select cast({{ dbt.dateadd('day', 1, 'valid_to') }} as date)
    from grades
    union
    select valid_from from remuneration_tiers
    union
    select cast({{ dbt.dateadd('day', 1, 'valid_to') }} as date)
    from remuneration_tiers

),

grade_days as (

    select
        grades.grade_code,
        grades.standard_monthly_remuneration_yen,
        change_days.checked_on,
        age_bands.age_band

    from grades
    inner join change_days
        on change_days.checked_on
        between grades.valid_from and grades.valid_to
    cross join age_bands

),

matched as (

    select
        grade_days.grade_code,
        grade_days.standard_monthly_remuneration_yen,
        grade_days.checked_on,
        grade_days.age_band,
        count(remuneration_tiers.tier_code) filter (
            where grade_days.standard_monthly_remuneration_yen
            between remuneration_tiers.remuneration_from_yen
            and remuneration_tiers.remuneration_to_yen
        ) as matching_tiers,
        min(remuneration_tiers.remuneration_from_yen)
            as lowest_remuneration_from_yen

    from grade_days
    left join remuneration_tiers
        on grade_days.age_band = remuneration_tiers.age_band
        and grade_days.checked_on
        between remuneration_tiers.valid_from and remuneration_tiers.valid_to
    group by all

),

checked as (

    select
        *,
        case
            when standard_monthly_remuneration_yen
                >= lowest_remuneration_from_yen
                then 1
            else 0
        end as expected_matching_tiers

    from matched

),

final as (

    select * from checked
    where matching_tiers <> expected_matching_tiers

)

select * from final
