-- standard_remuneration_grades: within one grade table (rows sharing a
-- valid_from), the pay ranges must tile 0 .. infinity in grade order with
-- no gap or overlap, so every monthly pay finds exactly one grade; grade
-- codes run 01, 02, ... without a hole; each standard amount lies inside
-- its own pay range and rises with the grade; and the whole table ends on
-- one day. Returns one row per offending grade, with its first problem.

with

grades as (

    select * from {{ ref('standard_remuneration_grades') }}

),

ordered as (

    select
        grade_code,
        valid_from,
        valid_to,
        standard_monthly_remuneration_yen,
        pay_from_yen,
        pay_below_yen,
        lag(pay_below_yen) over table_order as previous_pay_below_yen,
        lag(standard_monthly_remuneration_yen) over table_order
            as previous_standard_yen,
        row_number() over table_order as grade_number,
        count(*) over grade_table as grade_count,
        min(valid_to) over grade_table as first_valid_to,
        max(valid_to) over grade_table as last_valid_to

    from grades
    window
        grade_table as (partition by valid_from),
        table_order as (partition by valid_from order by grade_code)

),

checked as (

    select
        *,
        case
            when try_cast(grade_code as integer)
                is distinct from grade_number
                then 'grade codes do not run 01, 02, ... without a hole'
            when grade_number = 1 and pay_from_yen <> 0
                then 'lowest grade does not start at 0 yen'
            when grade_number > 1
                and pay_from_yen is distinct from previous_pay_below_yen
                then 'pay range does not start where the previous ends'
            when grade_number < grade_count and pay_below_yen is null
                then 'open pay range below the top grade'
            when grade_number = grade_count and pay_below_yen is not null
                then 'top grade has an upper bound'
            when pay_below_yen <= pay_from_yen
                then 'empty pay range'
            when standard_monthly_remuneration_yen < pay_from_yen
                or standard_monthly_remuneration_yen >= pay_below_yen
                then 'standard amount outside its own pay range'
            when standard_monthly_remuneration_yen <= previous_standard_yen
                then 'standard amount does not rise with the grade'
            when first_valid_to <> last_valid_to
                then 'grades of one table end on different days'
        end as problem

    from ordered

),

final as (

    select * from checked
    where problem is not null

)

select * from final
