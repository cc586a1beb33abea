-- 高額療養費 cap parameters (自己負担限度額) per member and treatment month:
-- the seed row of the member's age band, tier and period, halved in the
-- month of the 75th birthday (75歳到達月の特例). The cap for a given total
-- cost is high_cost_cap_yen(total, base_yen, threshold_yen, rate, ...),
-- the one computation that `renkei cap` also runs.

with

tiers as (

    select * from {{ ref('fct_member_month_tier') }}

),

caps as (

    select * from {{ ref('high_cost_caps') }}

),

parameters as (

    select * from {{ ref('benefit_parameters') }}

),

halving as (

    select
        valid_from,
        valid_to,
        value as cap_percent

    from parameters
    where parameter_code = 'birthday_75_month_cap_percent'

),

member_caps as (

    select
        tiers.month,
        tiers.member_token,
        tiers.age_band,
        tiers.tier_code,
        tiers.is_75th_birthday_month,
        case
            when tiers.is_75th_birthday_month then halving.cap_percent
            else 100
        end as cap_percent,
        caps.base_yen,
        caps.threshold_yen,
        caps.rate,
        caps.many_times_yen,
        caps.outpatient_cap_yen,
        caps.outpatient_year_cap_yen,
        caps.valid_from as caps_valid_from

    from tiers
    inner join caps
        on tiers.age_band = caps.age_band
        and tiers.tier_code = caps.tier_code
        and tiers.month between caps.valid_from and caps.valid_to
    left join halving
        on tiers.month between halving.valid_from and halving.valid_to

),

final as (

    select
        month,
        member_token,
        age_band,
        tier_code,
        cap_percent,
        case
            when is_75th_birthday_month then 'birthday_75_month'
        end as special_rule,
        {{ scaled_cap_yen('base_yen', 'cap_percent') }} as base_yen,
        {{ scaled_cap_yen('threshold_yen', 'cap_percent') }} as threshold_yen,
        rate,
        {{ scaled_cap_yen('many_times_yen', 'cap_percent') }}
            as many_times_yen,
        {{ scaled_cap_yen('outpatient_cap_yen', 'cap_percent') }}
            as outpatient_cap_yen,
        -- the year cap runs Aug-Jul on the 31 July tier: not halved
        outpatient_year_cap_yen,
        caps_valid_from

    from member_caps

)

select * from final
