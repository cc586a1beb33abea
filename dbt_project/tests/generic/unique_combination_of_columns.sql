{#-
    Primary-key test for a key of several columns: fails with one row per
    key value that occurs more than once, or that has a null in any key
    column. Written here because dbt_utils cannot be downloaded.
-#}
{% test unique_combination_of_columns(model, combination_of_columns) %}

{%- set key_columns = combination_of_columns | join(', ') -%}

with

keys as (

    select
        {{ key_columns }},
        count(*) as occurrences

    from {{ model }}
    group by {{ key_columns }}

),

final as (

    select * from keys
    where occurrences > 1
        {%- for column in combination_of_columns %}
        or {{ column }} is null
        {%- endfor %}

)

select * from final

{% endtest %}
