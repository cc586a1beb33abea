-- One row per household (insured person) and treatment month: what the
-- 70-74 rules decide for the whole household. 現役並み (active income)
-- comes from the insured person's 標準報酬 unless a 基準収入額 application
-- succeeds (DOMAIN.md 3.6, read with the September tax switch); 低所得
-- comes from the insured person's tax status and, for 低所得Ⅰ, the income
-- of every member (read with the August switch, DOMAIN.md 3.3 and 3.7).

with

facts as (

    select * from {{ ref('int_member_month_facts') }}

),

tax as (

    select * from {{ ref('int_tax_information_latest') }}

),

applications as (

    select * from {{ ref('stg_benefit_applications__income_threshold') }}

),

former_dependents as (

    select * from {{ ref('int_former_dependents') }}

),

threshold_rules as (

    select * from {{ ref('income_threshold_rules') }}

),

caps as (

    select * from {{ ref('high_cost_caps') }}

),

insured as (

    select
        month,
        insured_token,
        member_token,
        age_band as insured_age_band,
        standard_monthly_remuneration,
        grade_code,
        tax_fiscal_year_high_cost,
        tax_fiscal_year_copay

    from facts
    where is_insured_person

),

insured_tax as (

    select
        insured.*,
        high_cost_tax.member_token is not null as insured_has_tax_record,
        high_cost_tax.is_taxable as insured_is_taxable,
        copay_tax.revenue_yen as insured_revenue_yen

    from insured
    left join tax as high_cost_tax
        on insured.member_token = high_cost_tax.member_token
        and insured.tax_fiscal_year_high_cost = high_cost_tax.fiscal_year
    left join tax as copay_tax
        on insured.member_token = copay_tax.member_token
        and insured.tax_fiscal_year_copay = copay_tax.fiscal_year

),

-- 低所得Ⅰ: every member of the household has zero income for the test
household_income as (

    select
        facts.month,
        facts.insured_token,
        count(*) as household_member_count,
        count(*) filter (
            where tax.low_income_1_income_yen = 0
        ) as members_with_zero_income

    from facts
    left join tax
        on facts.member_token = tax.member_token
        and facts.tax_fiscal_year_high_cost = tax.fiscal_year
    group by facts.month, facts.insured_token

),

dependents_70_74 as (

    select
        facts.month,
        facts.insured_token,
        count(*) as dependent_70_74_count,
        count(tax.member_token) as dependent_70_74_with_record,
        sum(tax.revenue_yen) as dependent_70_74_revenue_yen

    from facts
    left join tax
        on facts.member_token = tax.member_token
        and facts.tax_fiscal_year_copay = tax.fiscal_year
    where not facts.is_insured_person and facts.age_band = '70-74'
    group by facts.month, facts.insured_token

),

former_in_window as (

    select
        insured.month,
        insured.insured_token,
        count(*) as former_dependent_count,
        count(tax.member_token) as former_dependent_with_record,
        sum(tax.revenue_yen) as former_dependent_revenue_yen

    from insured
    inner join former_dependents
        on insured.insured_token = former_dependents.insured_token
        and insured.month between former_dependents.window_from_month
        and former_dependents.window_to_month
    left join tax
        on former_dependents.member_token = tax.member_token
        and insured.tax_fiscal_year_copay = tax.fiscal_year
    group by insured.month, insured.insured_token

),

applications_in_force as (

    select
        insured.month,
        insured.insured_token,
        min(applications.applied_on) as first_applied_on

    from insured
    inner join applications
        on insured.insured_token = applications.insured_token
        and applications.effective_from_month <= insured.month
    group by insured.month, insured.insured_token

),

thresholds as (

    select
        months.month,
        max(threshold_rules.revenue_below_yen) filter (
            where threshold_rules.rule_code = 'insured_alone'
        ) as insured_alone_below_yen,
        max(threshold_rules.revenue_below_yen) filter (
            where threshold_rules.rule_code = 'with_dependents_70_74'
        ) as with_dependents_below_yen,
        max(threshold_rules.revenue_below_yen) filter (
            where threshold_rules.rule_code = 'with_former_dependent'
        ) as with_former_dependent_below_yen

    from (select distinct month from insured) as months
    inner join threshold_rules
        on months.month
        between threshold_rules.valid_from and threshold_rules.valid_to
    group by months.month

),

-- the lowest 標準報酬 that makes a 70-74 household 現役並み
active_income_floor as (

    select
        months.month,
        min(caps.remuneration_from_yen) as active_income_from_yen

    from (select distinct month from insured) as months
    inner join caps
        on months.month between caps.valid_from and caps.valid_to
        and caps.age_band = '70-74'
        and caps.remuneration_from_yen is not null
    group by months.month

),

combined as (

    select
        insured_tax.*,
        household_income.household_member_count,
        household_income.members_with_zero_income,
        coalesce(dependents_70_74.dependent_70_74_count, 0)
            as dependent_70_74_count,
        dependents_70_74.dependent_70_74_with_record,
        dependents_70_74.dependent_70_74_revenue_yen,
        coalesce(former_in_window.former_dependent_count, 0)
            as former_dependent_count,
        former_in_window.former_dependent_with_record,
        former_in_window.former_dependent_revenue_yen,
        applications_in_force.first_applied_on,
        thresholds.insured_alone_below_yen,
        thresholds.with_dependents_below_yen,
        thresholds.with_former_dependent_below_yen,
        active_income_floor.active_income_from_yen

    from insured_tax
    left join household_income
        on insured_tax.month = household_income.month
        and insured_tax.insured_token = household_income.insured_token
    left join dependents_70_74
        on insured_tax.month = dependents_70_74.month
        and insured_tax.insured_token = dependents_70_74.insured_token
    left join former_in_window
        on insured_tax.month = former_in_window.month
        and insured_tax.insured_token = former_in_window.insured_token
    left join applications_in_force
        on insured_tax.month = applications_in_force.month
        and insured_tax.insured_token = applications_in_force.insured_token
    left join thresholds
        on insured_tax.month = thresholds.month
    left join active_income_floor
        on insured_tax.month = active_income_floor.month

),

-- 基準収入額: which test applies, then whether it passes (a missing
-- revenue record fails it: no relief without proof)
income_test as (

    select
        *,
        case
            when first_applied_on is null then null
            when dependent_70_74_count > 0 then 'with_dependents_70_74'
            when insured_revenue_yen < insured_alone_below_yen
                then 'insured_alone'
            when former_dependent_count > 0 then 'with_former_dependent'
            else 'insured_alone'
        end as income_threshold_rule

    from combined

),

decided as (

    select
        *,
        case income_threshold_rule
            when 'with_dependents_70_74' then
                coalesce(
                    dependent_70_74_with_record = dependent_70_74_count
                    and insured_revenue_yen + dependent_70_74_revenue_yen
                    < with_dependents_below_yen,
                    false
                )
            when 'with_former_dependent' then
                coalesce(
                    former_dependent_with_record = former_dependent_count
                    and insured_revenue_yen + former_dependent_revenue_yen
                    < with_former_dependent_below_yen,
                    false
                )
            when 'insured_alone' then
                coalesce(insured_revenue_yen < insured_alone_below_yen, false)
        end as income_threshold_relief

    from income_test

),

final as (

    select
        month,
        insured_token,
        insured_age_band,
        standard_monthly_remuneration,
        grade_code,
        tax_fiscal_year_high_cost,
        tax_fiscal_year_copay,
        insured_has_tax_record,
        insured_is_taxable,
        -- a missing record counts as taxable: no low-income tier without
        -- proof of 非課税
        coalesce(insured_has_tax_record and not insured_is_taxable, false)
            as insured_is_non_taxable,
        household_member_count,
        members_with_zero_income = household_member_count
            as household_income_is_zero,
        dependent_70_74_count,
        former_dependent_count,
        first_applied_on as income_threshold_applied_on,
        income_threshold_rule,
        coalesce(income_threshold_relief, false) as income_threshold_relief,
        insured_age_band = '70-74'
        and standard_monthly_remuneration >= active_income_from_yen
            as is_active_income_by_remuneration,
        insured_age_band = '70-74'
        and standard_monthly_remuneration >= active_income_from_yen
        and not coalesce(income_threshold_relief, false) as is_active_income

    from decided

)

select * from final
