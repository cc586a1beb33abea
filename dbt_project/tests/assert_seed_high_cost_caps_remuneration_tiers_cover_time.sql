-- high_cost_caps: in each age band, the tiers decided by 標準報酬月額
-- (remuneration_from_yen not null) must be in force on every day from
-- 2015-01-01 to 9999-12-31, and on no day may two of them claim the same
-- remuneration; otherwise a member's grade would find no tier, or two.
-- The rows in force change only on a valid_from or the day after a
-- valid_to, so checking those days (and the first day) checks every day.
-- Returns one row per age band, day and problem.

with

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

    -- every band of the seed, so a band with no such tier at all fails
    select distinct age_band from caps

),

change_days as (

    select
        age_band,
        date '2015-01-01' as checked_on
    from age_bands

    union

    select
        age_band,
        valid_from as checked_on
    from remuneration_tiers

    union

    select
        age_band,
        cast({{ dbt.dateadd('day', 1, 'valid_to') }} as date) as checked_on
    from remuneration_tiers

),

checked_days as (

    select * from change_days
    where checked_on between date '2015-01-01' and date '9999-12-31'

),

in_force as (

    select
        checked_days.age_band,
        checked_days.checked_on,
        remuneration_tiers.tier_code,
        remuneration_tiers.valid_from,
        remuneration_tiers.remuneration_from_yen,
        remuneration_tiers.remuneration_to_yen

    from checked_days
    inner join remuneration_tiers
        on checked_days.age_band = remuneration_tiers.age_band
        and checked_days.checked_on
        between remuneration_tiers.valid_from and remuneration_tiers.valid_to

),

uncovered as (

    select
        checked_days.age_band,
        checked_days.checked_on,
        cast(null as varchar) as tier_code,
        cast(null as varchar) as other_tier_code,
        'no remuneration-decided tier in force' as problem

    from checked_days
    left join in_force
        on checked_days.age_band = in_force.age_band
        and checked_days.checked_on = in_force.checked_on
    where in_force.age_band is null

),

upside_down as (

    select
        age_band,
        valid_from as checked_on,
        tier_code,
        cast(null as varchar) as other_tier_code,
        'remuneration_to_yen below remuneration_from_yen' as problem

    from remuneration_tiers
    where remuneration_to_yen < remuneration_from_yen

),

overlapping as (

    select
        tier.age_band,
        tier.checked_on,
        tier.tier_code,
        other.tier_code as other_tier_code,
        'remuneration ranges overlap' as problem

    from in_force as tier
    inner join in_force as other
        on tier.age_band = other.age_band
        and tier.checked_on = other.checked_on
        -- each pair once; two rows of one tier count too
        and (
            tier.tier_code < other.tier_code
            or (
                tier.tier_code = other.tier_code
                and tier.valid_from < other.valid_from
            )
        )
        and tier.remuneration_from_yen <= other.remuneration_to_yen
        and other.remuneration_from_yen <= tier.remuneration_to_yen

),

final as (

    select * from uncovered
    union all
    select * from upside_down
    union all
    select * from overlapping

)

select * from final
