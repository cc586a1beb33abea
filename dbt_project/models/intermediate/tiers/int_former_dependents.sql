-- Former dependents who left the plan for 後期高齢者医療: their loss date
-- is their 75th birthday. For the 基準収入額 test their revenue still
-- counts with the insured person's from the month they left until the
-- end of the window in benefit_parameters (DOMAIN.md 3.6: 5 years).

with

members as (

    select * from {{ ref('stg_eligibility__members') }}

),

parameters as (

    select * from {{ ref('benefit_parameters') }}

),

left_at_75 as (

    select distinct
        member_token,
        insured_token,
        lost_date

    from members
    where
        relationship_code = '2'
        and lost_date = {{ anniversary('birth_date', 75) }}

),

window_months as (

    select
        valid_from,
        valid_to,
        value as window_months

    from parameters
    where parameter_code = 'former_dependent_months'

),

final as (

    select
        left_at_75.member_token,
        left_at_75.insured_token,
        left_at_75.lost_date,
        cast(date_trunc('month', left_at_75.lost_date) as date)
            as window_from_month,
        cast(
            date_trunc('month', left_at_75.lost_date)
            + to_months(cast(window_months.window_months as integer))
            as date
        ) as window_to_month

    from left_at_75
    inner join window_months
        on left_at_75.lost_date
        between window_months.valid_from and window_months.valid_to

)

select * from final
