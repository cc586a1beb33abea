-- Standard meal charge in hospital (入院時食事療養 標準負担額) per member
-- and month, and for members of the long-term-bed age the 入院時生活療養
-- charges. Category: 低所得Ⅱ and オ pay the low-income II rate (a lower
-- one after 90 hospital days in 12 months), 低所得Ⅰ its own rate,
-- everyone else the general rate. Charges change only on the 1st of a
-- month, so the row in force on the month's first day applies.

with

tiers as (

    select * from {{ ref('fct_member_month_tier') }}

),

meal_charges as (

    select * from {{ ref('meal_charges') }}

),

bed_charges as (

    select * from {{ ref('long_term_bed_charges') }}

),

parameters as (

    select * from {{ ref('benefit_parameters') }}

),

categorised as (

    select
        tiers.month,
        tiers.member_token,
        tiers.age_band,
        tiers.tier_code,
        tiers.age_at_month_start,
        case
            when tiers.tier_code in ('低所得Ⅱ', 'オ') then 'low_income_2'
            when tiers.tier_code = '低所得Ⅰ' then 'low_income_1'
            else 'general'
        end as meal_category

    from tiers
    where tiers.tier_code is not null

),

meals as (

    select
        month,
        max(yen_per_meal) filter (where category = 'general')
            as general_yen,
        max(yen_per_meal) filter (where category = 'intractable_disease')
            as intractable_disease_yen,
        max(yen_per_meal) filter (where category = 'low_income_2')
            as low_income_2_yen,
        max(yen_per_meal) filter (
            where category = 'low_income_2_over_90_days'
        ) as low_income_2_over_90_days_yen,
        max(yen_per_meal) filter (where category = 'low_income_1')
            as low_income_1_yen

    from (select distinct month from categorised) as months
    inner join meal_charges
        on months.month
        between meal_charges.valid_from and meal_charges.valid_to
    group by month

),

beds as (

    select
        month,
        max(yen) filter (where category = 'meal_hospital_type1')
            as meal_type1_yen,
        max(yen) filter (where category = 'meal_hospital_type2')
            as meal_type2_yen,
        max(yen) filter (where category = 'low_income_2_meal')
            as low_income_2_meal_yen,
        max(yen) filter (where category = 'low_income_1_meal')
            as low_income_1_meal_yen,
        max(yen) filter (where category = 'housing_per_day')
            as housing_per_day_yen

    from (select distinct month from categorised) as months
    inner join bed_charges
        on months.month
        between bed_charges.valid_from and bed_charges.valid_to
    group by month

),

min_age as (

    select
        valid_from,
        valid_to,
        value as long_term_bed_min_age

    from parameters
    where parameter_code = 'long_term_bed_min_age'

),

final as (

    select
        categorised.month,
        categorised.member_token,
        categorised.age_band,
        categorised.tier_code,
        categorised.meal_category,
        case categorised.meal_category
            when 'low_income_2' then meals.low_income_2_yen
            when 'low_income_1' then meals.low_income_1_yen
            else meals.general_yen
        end as charge_per_meal_yen,
        case categorised.meal_category
            when 'low_income_2' then meals.low_income_2_over_90_days_yen
        end as charge_per_meal_over_90_days_yen,
        -- 指定難病・小児慢性特定疾病: only lowers the general rate
        case categorised.meal_category
            when 'general' then meals.intractable_disease_yen
        end as intractable_disease_charge_per_meal_yen,
        categorised.age_at_month_start >= min_age.long_term_bed_min_age
            as is_long_term_bed_age,
        case
            when categorised.age_at_month_start < min_age.long_term_bed_min_age
                then null
            when categorised.meal_category = 'low_income_2'
                then beds.low_income_2_meal_yen
            when categorised.meal_category = 'low_income_1'
                then beds.low_income_1_meal_yen
            else beds.meal_type1_yen
        end as long_term_bed_meal_type1_yen,
        case
            when categorised.age_at_month_start < min_age.long_term_bed_min_age
                then null
            when categorised.meal_category = 'low_income_2'
                then beds.low_income_2_meal_yen
            when categorised.meal_category = 'low_income_1'
                then beds.low_income_1_meal_yen
            else beds.meal_type2_yen
        end as long_term_bed_meal_type2_yen,
        case
            when categorised.age_at_month_start
                >= min_age.long_term_bed_min_age
                then beds.housing_per_day_yen
        end as long_term_bed_housing_per_day_yen

    from categorised
    left join meals
        on categorised.month = meals.month
    left join beds
        on categorised.month = beds.month
    left join min_age
        on categorised.month between min_age.valid_from and min_age.valid_to

)

select * from final
