{#-
    Fails for every non-null value of the column that does not match the
    regular expression as a whole (e.g. '[0-9]{8}' for a 保険者番号).
    Uses DuckDB's regexp_full_match.
-#}
{% test matches_pattern(model, column_name, pattern) %}

with

final as (

    select {{ column_name }} as failing_value
    from {{ model }}
    where {{ column_name }} is not null
        and not regexp_full_match({{ column_name }}, '{{ pattern }}')

)

select * from final

{% endtest %}
