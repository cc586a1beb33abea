-- One row per member and treatment month in which the member is enrolled
-- on at least one day (what the month's extract lists), with the facts
-- the tier rules need: age band, the 75th-birthday month, preschool age,
-- and which tax fiscal year each rule reads.

with

members as (

    select * from {{ ref('stg_eligibility__members') }}

),

enrolled as (

    select
        period as month,
        last_day(period) as month_end,
        member_token,
        insured_token,
        insurer_number,
        relationship_code,
        sex_code,
        birth_date,
        acquired_date,
        lost_date,
        standard_monthly_remuneration,
        grade_code,
        batch_id

    from members
    where
        acquired_date <= last_day(period)
        and (lost_date is null or lost_date > period)

),

birthdays as (

    select
        *,
        -- a 29 February birthday falls on 1 March in a common year
        {{ anniversary('birth_date', 70) }} as birthday_70,
        {{ anniversary('birth_date', 75) }} as birthday_75,
        -- Japanese law reaches an age on the day before the birthday
        cast(
            {{ anniversary('birth_date', 6) }} - interval 1 day as date
        ) as reached_6_on

    from enrolled

),

milestones as (

    select
        *,
        -- 70-74 from the month after the day age 70 is reached: the month
        -- after the birthday, or the birthday's month when it is the 1st
        cast(
            date_trunc('month', birthday_70 - interval 1 day)
            + interval 1 month as date
        ) as age_70_74_from_month,
        cast(date_trunc('month', birthday_75) as date) as birthday_75_month,
        -- 義務教育就学前: until the first 31 March on or after reaching 6
        make_date(
            year(reached_6_on)
            + case when month(reached_6_on) > 3 then 1 else 0 end,
            3,
            31
        ) as preschool_until

    from birthdays

),

final as (

    select
        month,
        month_end,
        member_token,
        insured_token,
        insurer_number,
        relationship_code,
        relationship_code = '1' as is_insured_person,
        sex_code,
        birth_date,
        acquired_date,
        lost_date,
        standard_monthly_remuneration,
        grade_code,

        -- age
        case
            -- the plan ends on the 75th birthday (後期高齢者医療)
            when month > birthday_75_month
                or (month = birthday_75_month and day(birthday_75) = 1)
                then '75+'
            when month >= age_70_74_from_month then '70-74'
            else 'under70'
        end as age_band,
        age_70_74_from_month,
        birthday_75,
        month = birthday_75_month
        and day(birthday_75) <> 1 as is_75th_birthday_month,
        month <= preschool_until as is_preschool,
        -- age reached by the first day of the month (reckoned the
        -- Japanese way: the age is reached the day before the birthday)
        date_sub(
            'year', birth_date, cast(month + interval 1 day as date)
        ) as age_at_month_start,

        -- tax fiscal year each rule reads (DOMAIN.md 3.7)
        case
            when month(month) >= 8 then year(month) else year(month) - 1
        end as tax_fiscal_year_high_cost,
        case
            when month(month) >= 9 then year(month) else year(month) - 1
        end as tax_fiscal_year_copay,

        batch_id

    from milestones

)

select * from final
