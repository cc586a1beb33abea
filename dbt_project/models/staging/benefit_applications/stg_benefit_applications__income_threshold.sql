-- 基準収入額適用申請: one row per application as delivered. It takes
-- effect from the month after the application (DOMAIN.md 3.6).

with

source as (

    select
        *
    from {{ source('benefit_applications', 'income_threshold_applications') }}

),

final as (

    select
        member_token as insured_token,
        applied_on,
        cast(
            date_trunc('month', applied_on) + interval 1 month as date
        ) as effective_from_month,
        batch_id,
        record_no

    from source

)

select * from final
