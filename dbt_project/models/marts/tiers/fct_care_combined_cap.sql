-- 高額介護合算療養費 annual cap per member and period (1 August - 31
-- July), on the tier of 31 July: the member's July tier, or the tier of
-- the last month the member was enrolled when they left before 31 July.
-- A period whose July is not loaded yet is provisional.

with

tiers as (

    select * from {{ ref('fct_member_month_tier') }}

),

caps as (

    select * from {{ ref('care_combined_caps') }}

),

with_periods as (

    select
        *,
        make_date(
            case
                when month(month) >= 8 then year(month) else year(month) - 1
            end,
            8,
            1
        ) as period_start

    from tiers
    where tier_code is not null

),

basis_months as (

    select
        period_start,
        member_token,
        month as basis_month,
        age_band,
        tier_code

    from with_periods
    qualify row_number() over (
        partition by period_start, member_token order by month desc
    ) = 1

),

last_loaded as (

    select max(month) as last_loaded_month from tiers

),

final as (

    select
        basis_months.period_start,
        cast(
            basis_months.period_start + interval 1 year - interval 1 day
            as date
        ) as period_end,
        basis_months.member_token,
        basis_months.basis_month,
        basis_months.age_band,
        basis_months.tier_code,
        caps.cap_yen,
        caps.care_side_cap_yen,
        -- July not loaded yet: the member may still be enrolled on 31 July
        basis_months.basis_month < make_date(
            year(basis_months.period_start) + 1, 7, 1
        )
        and last_loaded.last_loaded_month < make_date(
            year(basis_months.period_start) + 1, 7, 1
        ) as is_provisional

    from basis_months
    cross join last_loaded
    left join caps
        on basis_months.age_band = caps.age_band
        and basis_months.tier_code = caps.tier_code
        and basis_months.period_start
        between caps.valid_from and caps.valid_to

)

select * from final
