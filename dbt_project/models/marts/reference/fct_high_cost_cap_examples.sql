-- 高額療養費 monthly caps (自己負担限度額) worked out for every row of the
-- seed high_cost_caps at a few reference totals: the cap as it is, in a
-- 多数回 month and for an outpatient-only case (外来のみ). Staff can read
-- the leaflet figures here, and the unit tests pin the shared macro
-- (macros/high_cost_cap.sql, also run by `renkei cap`) to hand-computed
-- values. 1,000,000 yen is the case every 高額療養費 leaflet prints; 267,000
-- is the ウ / 現役並みⅠ threshold itself. The totals are a var so that a
-- unit test or an analyst can ask for other ones.

{%- set reference_totals = var(
    'high_cost_cap_reference_totals',
    [100000, 267000, 500000, 1000000, 2000000]
) %}

with

high_cost_caps as (

    select * from {{ ref('high_cost_caps') }}

),

reference_totals as (

    select cast(total_cost_yen as bigint) as total_cost_yen
    from (
        values
        {%- for total in reference_totals %}
            ({{ total }}){{ ',' if not loop.last }}
        {%- endfor %}
    ) as totals (total_cost_yen)

),

caps_at_totals as (

    select
        high_cost_caps.age_band,
        high_cost_caps.tier_code,
        high_cost_caps.valid_from,
        high_cost_caps.valid_to,
        reference_totals.total_cost_yen,
        cast(high_cost_caps.base_yen as bigint) as base_yen,
        cast(high_cost_caps.threshold_yen as bigint) as threshold_yen,
        high_cost_caps.rate,
        cast(high_cost_caps.many_times_yen as bigint) as many_times_yen,
        cast(
            high_cost_caps.outpatient_cap_yen as bigint
        ) as outpatient_cap_yen

    from high_cost_caps
    cross join reference_totals

),

final as (

    select
        age_band,
        tier_code,
        valid_from,
        valid_to,
        total_cost_yen,
        base_yen,
        threshold_yen,
        rate,
        many_times_yen,
        outpatient_cap_yen,
        {{ high_cost_cap_yen(
            'total_cost_yen', 'base_yen', 'threshold_yen', 'rate',
            'many_times_yen', 'outpatient_cap_yen'
        ) }} as cap_yen,
        {{ high_cost_cap_yen(
            'total_cost_yen', 'base_yen', 'threshold_yen', 'rate',
            'many_times_yen', 'outpatient_cap_yen',
            many_times='true'
        ) }} as cap_many_times_yen,
        {{ high_cost_cap_yen(
            'total_cost_yen', 'base_yen', 'threshold_yen', 'rate',
            'many_times_yen', 'outpatient_cap_yen',
            outpatient_only='true'
        ) }} as cap_outpatient_only_yen

    from caps_at_totals

)

select * from final
