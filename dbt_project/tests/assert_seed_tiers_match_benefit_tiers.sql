-- benefit_tiers is the list of tier codes: every (age_band, tier_code) of
-- high_cost_caps and care_combined_caps must be a tier there, used only
-- while the tier exists (care_combined_caps dates are period starts, which
-- lie within the same span); and every tier must have high_cost_caps rows
-- for its whole life, so no member in force can lack a cap. The caps of a
-- tier tile time (effective_periods test), so their first valid_from and
-- last valid_to bound them. Returns one row per offending seed row or tier.

with

tiers as (

    select * from {{ ref('benefit_tiers') }}

),

high_cost_caps as (

    select * from {{ ref('high_cost_caps') }}

),

care_combined_caps as (

    select * from {{ ref('care_combined_caps') }}

),

cap_rows as (

    select
        'high_cost_caps' as seed_name,
        age_band,
        tier_code,
        valid_from,
        valid_to
    from high_cost_caps

    union all

    select
        'care_combined_caps' as seed_name,
        age_band,
        tier_code,
        valid_from,
        valid_to
    from care_combined_caps

),

unknown_or_outside as (

    select
        cap_rows.seed_name,
        cap_rows.age_band,
        cap_rows.tier_code,
        cap_rows.valid_from,
        cap_rows.valid_to,
        case
            when tiers.tier_code is null
                then 'tier not in benefit_tiers'
            else 'row outside the dates the tier exists'
        end as problem

    from cap_rows
    left join tiers
        on cap_rows.age_band = tiers.age_band
        and cap_rows.tier_code = tiers.tier_code
    where tiers.tier_code is null
        or cap_rows.valid_from < tiers.valid_from
        or cap_rows.valid_to > tiers.valid_to

),

cap_spans as (

    select
        age_band,
        tier_code,
        min(valid_from) as first_valid_from,
        max(valid_to) as last_valid_to

    from high_cost_caps
    group by age_band, tier_code

),

tiers_without_caps as (

    select
        'benefit_tiers' as seed_name,
        tiers.age_band,
        tiers.tier_code,
        tiers.valid_from,
        tiers.valid_to,
        'high_cost_caps do not cover the whole tier' as problem

    from tiers
    left join cap_spans
        on tiers.age_band = cap_spans.age_band
        and tiers.tier_code = cap_spans.tier_code
    where cap_spans.tier_code is null
        or cap_spans.first_valid_from > tiers.valid_from
        or cap_spans.last_valid_to < tiers.valid_to

),

final as (

    select * from unknown_or_outside
    union all
    select * from tiers_without_caps

)

select * from final
