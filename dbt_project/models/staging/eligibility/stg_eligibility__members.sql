-- One row per data record of a month's eligibility extract. Tokens only:
-- names, numbers and addresses never reach the warehouse.

with

source as (

    select * from {{ source('eligibility', 'eligibility_members') }}

),

final as (

    select
        -- keys
        batch_id,
        period,
        record_no,
        member_token,
        insured_token,

        -- branch and household
        insurer_number,
        branch_number,
        relationship_code,

        -- person
        sex_code,
        birth_date,

        -- eligibility (資格)
        acquired_date,
        lost_date,

        -- remuneration (insured persons only)
        standard_monthly_remuneration,
        grade_code

    from source

)

select * from final
