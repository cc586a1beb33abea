-- Intermediary server (中間サーバー) cost per month and branch: members
-- counted in the month x the month's unit cost, truncated to whole yen
-- once per branch-month (yen_amount).

with

member_months as (

    select * from {{ ref('int_member_months') }}

),

unit_cost_months as (

    select * from {{ ref('int_unit_cost_months') }}

),

branches as (

    select * from {{ ref('dim_branches') }}

),

branch_months as (

    select
        month,
        insurer_number,
        batch_id,
        cast(count(*) as bigint) as member_count,
        cast(
            count(*) filter (where relationship_code = '1') as bigint
        ) as insured_count,
        cast(
            count(*) filter (where relationship_code = '2') as bigint
        ) as dependent_count

    from member_months
    group by month, insurer_number, batch_id

),

final as (

    select
        branch_months.month,
        branch_months.insurer_number,
        branches.prefecture_code,
        branches.branch_name_ja,
        branches.branch_name_en,
        branch_months.member_count,
        branch_months.insured_count,
        branch_months.dependent_count,
        unit_cost_months.yen_per_member_month,
        {{ yen_amount(
            'branch_months.member_count'
            ~ ' * unit_cost_months.yen_per_member_month'
        ) }} as amount_yen,
        branch_months.batch_id

    -- left joins: a month without a unit cost row, or a branch without a
    -- prefecture, shows up as nulls that the not_null tests report
    from branch_months
    left join unit_cost_months
        on branch_months.month = unit_cost_months.month
    left join branches
        on branch_months.insurer_number = branches.insurer_number

)

select * from final
