{#-
    The date a person born on birth_date turns `years` old, as Japanese law
    counts it (年齢計算ニ関スル法律): an age is reached at the end of the
    day before the anniversary, so a 29 February birthday falls on 1 March
    in a common year (DuckDB's date arithmetic would give 28 February).
    Rules that need "the day the age is reached" subtract one day from it.
-#}
{% macro anniversary(birth_date, years) -%}
    case
        when month({{ birth_date }}) = 2
            and day({{ birth_date }}) = 29
            and day(
                last_day(make_date(year({{ birth_date }}) + {{ years }}, 2, 1))
            ) = 28
            then make_date(year({{ birth_date }}) + {{ years }}, 3, 1)
        else cast({{ birth_date }} + to_years({{ years }}) as date)
    end
{%- endmacro %}
