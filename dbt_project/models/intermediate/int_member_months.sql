-- One row per member and month for the members the month counts, read from
-- that month's own extract. The counting rule lives in counts_for_month.

with

members as (

    select * from {{ ref('stg_eligibility__members') }}

),

extract_months as (

    select
        *,
        period as month,
        last_day(period) as month_end

    from members

),

final as (

    select
        month,
        month_end,
        member_token,
        insured_token,
        insurer_number,
        relationship_code,
        batch_id

    from extract_months
    where {{ counts_for_month('acquired_date', 'lost_date', 'month_end') }}

)

select * from final
