-- Members per tier per month (所得区分別加入者数): the tier summary the
-- main job writes for benefit staff.

with

tiers as (

    select * from {{ ref('fct_member_month_tier') }}

),

tier_names as (

    select * from {{ ref('dim_benefit_tiers') }}

),

counts as (

    select
        month,
        age_band,
        coalesce(tier_code, '-') as tier_code,
        count(*) as member_count,
        count(*) filter (where relationship_code = '1') as insured_count,
        count(*) filter (where relationship_code = '2') as dependent_count

    from tiers
    group by month, age_band, coalesce(tier_code, '-')

),

final as (

    select
        counts.month,
        counts.age_band,
        counts.tier_code,
        tier_names.name_ja as tier_name_ja,
        tier_names.name_en as tier_name_en,
        tier_names.sort_order,
        cast(counts.member_count as bigint) as member_count,
        cast(counts.insured_count as bigint) as insured_count,
        cast(counts.dependent_count as bigint) as dependent_count

    from counts
    left join tier_names
        on counts.age_band = tier_names.age_band
        and counts.tier_code = tier_names.tier_code

)

select * from final
