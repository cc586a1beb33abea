-- Every branch-month: amount_yen = floor(member_count x yen_per_member_month),
-- computed here independently of the yen_amount macro, in exact decimals.
-- Returns the rows that disagree.

with

allocation as (

    select * from {{ ref('fct_intermediary_cost_allocation') }}

),

final as (

    select
        month,
        insurer_number,
        member_count,
        yen_per_member_month,
        amount_yen,
        floor(member_count * yen_per_member_month) as expected_amount_yen

    from allocation
    where amount_yen is distinct from
        cast(floor(member_count * yen_per_member_month) as bigint)

)

select * from final
