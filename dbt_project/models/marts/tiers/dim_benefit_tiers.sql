-- The 高額療養費 tiers (所得区分) with their names, from the seed.

with

tiers as (

    select * from {{ ref('benefit_tiers') }}

),

final as (

    select
        age_band,
        tier_code,
        name_ja,
        name_en,
        sort_order,
        valid_from,
        valid_to

    from tiers

)

select * from final
