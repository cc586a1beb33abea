-- Every branch-month: member_count = insured_count + dependent_count, i.e.
-- every counted member is either an insured person or a dependent.
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
        insured_count,
        dependent_count

    from allocation
    where member_count <> insured_count + dependent_count

)

select * from final
