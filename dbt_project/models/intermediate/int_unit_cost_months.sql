-- One row per month with the intermediary server unit cost in force on the
-- last day of that month (the same anchor as the counting rule).

with

unit_costs as (

    select * from {{ ref('intermediary_unit_costs') }}

),

candidate_months as (

    select
        cast(
            unnest(
                generate_series(
                    date_trunc('month', valid_from),
                    valid_to,
                    interval 1 month
                )
            ) as date
        ) as month,
        valid_from,
        valid_to,
        yen_per_member_month,
        basis

    from unit_costs

),

final as (

    select
        month,
        last_day(month) as month_end,
        yen_per_member_month,
        basis,
        valid_from,
        valid_to

    from candidate_months
    where last_day(month) between valid_from and valid_to

)

select * from final
