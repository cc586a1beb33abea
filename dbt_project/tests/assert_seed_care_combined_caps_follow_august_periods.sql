-- care_combined_caps: 高額介護合算 periods run 1 August to 31 July and the
-- rows are dated on period starts, so a row must begin on a 1 August and
-- end on a 31 July (or be open, 9999-12-31); a row starting on any other
-- day would split a period between two caps. Returns the offending rows.

with

caps as (

    select * from {{ ref('care_combined_caps') }}

),

final as (

    select * from caps
    where not (
        month(valid_from) = 8 and day(valid_from) = 1
    )
        or not (
            (month(valid_to) = 7 and day(valid_to) = 31)
            or valid_to = date '9999-12-31'
        )

)

select * from final
