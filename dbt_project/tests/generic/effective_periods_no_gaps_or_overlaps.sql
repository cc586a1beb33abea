{#-
    Effective-dated reference tables (seeds with valid_from / valid_to, both
    inclusive) must tile time: within each partition, periods sorted by
    valid_from follow each other day by day. Returns one row per problem:
      - valid_from is null;
      - valid_to is before valid_from;
      - an open-ended period (valid_to null) that is not the last one;
      - an overlap with the previous period;
      - a gap after the previous period.
    partition_by: optional list of columns that each carry their own timeline
    (e.g. a tier code), so one seed can hold several contiguous series.
-#}
{% test effective_periods_no_gaps_or_overlaps(
    model,
    valid_from='valid_from',
    valid_to='valid_to',
    partition_by=none
) %}

{%- set partition_columns = partition_by or [] -%}
{%- if partition_columns is string -%}
    {%- set partition_columns = [partition_columns] -%}
{%- endif -%}
{%- set partition_clause -%}
    {%- if partition_columns -%}
        partition by {{ partition_columns | join(', ') }}
    {%- endif -%}
{%- endset -%}

with

periods as (

    select
        {%- for column in partition_columns %}
        {{ column }},
        {%- endfor %}
        {{ valid_from }} as period_valid_from,
        {{ valid_to }} as period_valid_to,
        lag({{ valid_to }}) over (
            {{ partition_clause }}
            order by {{ valid_from }}, {{ valid_to }} nulls last
        ) as previous_valid_to,
        row_number() over (
            {{ partition_clause }}
            order by {{ valid_from }}, {{ valid_to }} nulls last
        ) as period_number,
        count(*) over (
            {{ partition_clause }}
        ) as period_count

    from {{ model }}

),

checked as (

    select
        *,
        case
            when period_valid_from is null
                then 'valid_from is null'
            when period_valid_to < period_valid_from
                then 'valid_to before valid_from'
            when period_valid_to is null and period_number < period_count
                then 'open-ended period is not the last'
            when period_number > 1
                and period_valid_from <= previous_valid_to
                then 'overlaps the previous period'
            when period_number > 1
                and period_valid_from
                > {{ dbt.dateadd('day', 1, 'previous_valid_to') }}
                then 'gap after the previous period'
        end as problem

    from periods

),

final as (

    select * from checked
    where problem is not null

)

select * from final

{% endtest %}
