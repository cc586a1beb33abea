-- 高額療養費 tier (所得区分) and copay ratio (負担割合) per member and
-- treatment month, with the columns that say why: which fiscal year's tax
-- record was read and which rule decided. Rules: DOMAIN.md 3.1-3.3, 3.6,
-- 3.7; the figures come from the seeds.

with

facts as (

    select * from {{ ref('int_member_month_facts') }}

),

households as (

    select * from {{ ref('int_household_months') }}

),

caps as (

    select * from {{ ref('high_cost_caps') }}

),

copay_ratios as (

    select * from {{ ref('copay_ratios') }}

),

member_households as (

    select
        facts.*,
        households.insured_age_band,
        households.standard_monthly_remuneration
            as household_remuneration_yen,
        households.grade_code as household_grade_code,
        households.insured_has_tax_record,
        households.insured_is_non_taxable,
        households.household_income_is_zero,
        households.income_threshold_applied_on,
        households.income_threshold_rule,
        households.income_threshold_relief,
        households.is_active_income

    from facts
    left join households
        on facts.month = households.month
        and facts.insured_token = households.insured_token

),

-- the tier 標準報酬 alone would give: the highest remuneration-decided
-- tier of the member's age band whose lower bound the household reaches
by_remuneration as (

    select
        member_households.month,
        member_households.member_token,
        caps.tier_code

    from member_households
    inner join caps
        on member_households.age_band = caps.age_band
        and member_households.month
        between caps.valid_from and caps.valid_to
        and caps.remuneration_from_yen
        <= member_households.household_remuneration_yen
    qualify row_number() over (
        partition by member_households.month, member_households.member_token
        order by caps.remuneration_from_yen desc
    ) = 1

),

tiers as (

    select
        member_households.*,
        case
            when member_households.age_band = 'under70' then
                case
                    when member_households.insured_is_non_taxable then 'オ'
                    else by_remuneration.tier_code
                end
            when member_households.age_band = '70-74' then
                case
                    when member_households.is_active_income
                        then by_remuneration.tier_code
                    when member_households.insured_is_non_taxable
                        and member_households.household_income_is_zero
                        then '低所得Ⅰ'
                    when member_households.insured_is_non_taxable
                        then '低所得Ⅱ'
                    else '一般'
                end
        end as tier_code,
        case
            when member_households.age_band = '75+' then 'not_covered'
            when member_households.insured_age_band is null
                then 'insured_person_missing'
            when member_households.age_band = 'under70' then
                case
                    when member_households.insured_is_non_taxable
                        then 'non_taxable'
                    else 'remuneration'
                end
            when member_households.is_active_income then 'active_income'
            when member_households.insured_is_non_taxable
                and member_households.household_income_is_zero
                then 'low_income_1'
            when member_households.insured_is_non_taxable
                then 'low_income_2'
            when member_households.income_threshold_relief
                then 'income_threshold_relief'
            else 'general'
        end as tier_rule,
        case
            when member_households.age_band = 'under70' then
                case
                    when member_households.is_preschool then 'preschool'
                    else 'general'
                end
            when member_households.age_band = '70-74' then
                case
                    when member_households.is_active_income
                        then 'active_income'
                    -- the special measure is in force only in its seed
                    -- period (joined below); outside it, 'general' applies
                    when member_households.birth_date <= date '1944-04-01'
                        then 'born_before_1944_04_02'
                    else 'general'
                end
        end as copay_rule_candidate

    from member_households
    left join by_remuneration
        on member_households.month = by_remuneration.month
        and member_households.member_token = by_remuneration.member_token

),

copay as (

    select
        tiers.*,
        coalesce(candidate.rule_code, fallback.rule_code) as copay_rule,
        coalesce(candidate.ratio, fallback.ratio) as copay_ratio

    from tiers
    left join copay_ratios as candidate
        on tiers.age_band = candidate.age_band
        and tiers.copay_rule_candidate = candidate.rule_code
        and tiers.month between candidate.valid_from and candidate.valid_to
    left join copay_ratios as fallback
        on tiers.age_band = fallback.age_band
        and fallback.rule_code = 'general'
        and tiers.month between fallback.valid_from and fallback.valid_to

),

final as (

    select
        -- keys
        month,
        member_token,
        insured_token,
        insurer_number,
        relationship_code,

        -- result
        age_band,
        tier_code,
        cast(copay_ratio as decimal(3, 2)) as copay_ratio,

        -- why
        tier_rule,
        copay_rule,
        tax_fiscal_year_high_cost,
        tax_fiscal_year_copay,
        insured_has_tax_record,
        insured_is_non_taxable,
        household_remuneration_yen,
        household_grade_code,
        income_threshold_applied_on,
        income_threshold_rule,
        income_threshold_relief,
        is_75th_birthday_month,
        is_preschool,
        age_at_month_start

    from copay

)

select * from final
