-- The tax record in force per member and fiscal year: the latest delivery
-- wins (a corrected answer replaces an earlier one). Adds the income the
-- 低所得Ⅰ test uses, where public pension revenue up to the deduction
-- parameter counts as zero (DOMAIN.md 3.3).

with

tax as (

    select * from {{ ref('stg_tax__information') }}

),

parameters as (

    select * from {{ ref('benefit_parameters') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by member_token, fiscal_year
            order by received_at desc, batch_id desc, record_no desc
        ) as delivery_rank

    from tax

),

pension_deduction as (

    select
        valid_from,
        valid_to,
        value as pension_deduction_yen

    from parameters
    where parameter_code = 'low_income_1_pension_deduction_yen'

),

final as (

    select
        ranked.member_token,
        ranked.fiscal_year,
        ranked.is_taxable,
        ranked.income_yen,
        ranked.revenue_yen,
        ranked.public_pension_revenue_yen,
        ranked.pension_income_yen,
        -- 所得 other than pension, plus pension revenue above the deduction
        greatest(
            ranked.income_yen - coalesce(ranked.pension_income_yen, 0), 0
        )
        + greatest(
            coalesce(ranked.public_pension_revenue_yen, 0)
            - pension_deduction.pension_deduction_yen,
            0
        ) as low_income_1_income_yen,
        ranked.source,
        ranked.received_at,
        ranked.batch_id

    from ranked
    -- the deduction in force when the fiscal year starts (1 April)
    left join pension_deduction
        on make_date(ranked.fiscal_year, 4, 1)
        between pension_deduction.valid_from and pension_deduction.valid_to
    where ranked.delivery_rank = 1

)

select * from final
