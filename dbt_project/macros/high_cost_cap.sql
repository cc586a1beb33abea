{#-
    The one definition of the 高額療養費 monthly cap (自己負担限度額),
    DOMAIN.md sections 3.2 (under 70) and 3.3 (70-74). The figures come from
    the seed high_cost_caps; these macros hold only the formula.

    Plain Jinja on purpose: no ref, adapter, config or any other dbt-only
    context. `renkei cap` (plugins/renkei/caps.py) renders this very file
    with the jinja2 library and runs the SQL in DuckDB, so the command and
    the dbt models cannot drift apart. Every argument is a SQL expression.
-#}

{#-
    high_cost_cap_yen: the cap in whole yen (bigint).

        outpatient_only and an outpatient cap exists -> outpatient_cap_yen
        many_times and a 多数回 amount exists         -> many_times_yen
        no threshold (flat tiers)                     -> base_yen
        otherwise  base_yen + round(max(total_cost - threshold_yen, 0) x rate)

    - The 外来 cap comes first because 多数回 does not apply to it (3.3).
      A row without one (under 70; 現役並み from 2018-08) falls through to
      the household formula, 多数回 included.
    - A tier without a 多数回 amount (70-74 一般 before 2017-08, 低所得)
      keeps its normal cap in a 4th+ month.
    - total_cost is the full 10割 medical cost of the month, never negative.
-#}
{% macro high_cost_cap_yen(
    total_cost,
    base_yen,
    threshold_yen,
    rate,
    many_times_yen,
    outpatient_cap_yen,
    many_times='false',
    outpatient_only='false'
) -%}
    case
        when ({{ outpatient_only }}) and ({{ outpatient_cap_yen }}) is not null
            then cast({{ outpatient_cap_yen }} as bigint)
        when ({{ many_times }}) and ({{ many_times_yen }}) is not null
            then cast({{ many_times_yen }} as bigint)
        when ({{ threshold_yen }}) is null
            then cast({{ base_yen }} as bigint)
        else
            cast({{ base_yen }} as bigint)
            {#-
                The 1% part is clamped at zero below the threshold on
                purpose: there the 30% copay is below base_yen anyway (the
                base is 30% of the threshold), so the cap must not fall
                below the base. It is rounded to the nearest yen, half up
                (1円未満四捨五入): exact decimal arithmetic (the rate is
                cast to decimal, never a float), and DuckDB rounds a decimal
                half away from zero, which is half up for a part >= 0.
            #}
            + cast(
                round(
                    greatest(
                        cast({{ total_cost }} as bigint)
                        - cast({{ threshold_yen }} as bigint),
                        0
                    ) * cast({{ rate }} as decimal(9, 4)),
                    0
                ) as bigint
            )
    end
{%- endmacro %}

{#-
    scaled_cap_yen: amount x percent / 100 as an exact whole-yen bigint,
    for the 75歳到達月の特例 (benefit_parameters
    'birthday_75_month_cap_percent' = 50: in the month of the 75th
    birthday, unless the birthday is the 1st, every cap figure is halved).

    Every official figure halves to whole yen (252,600 -> 126,300; 140,100
    -> 70,050; 80,100 -> 40,050; 267,000 -> 133,500; 57,600 -> 28,800;
    ...), so no rounding rule is needed and none is invented: a result with
    a fraction of a yen means a wrong seed or parameter, and the query fails
    with an error instead of rounding silently. A null amount (no threshold,
    no 多数回, no 外来 cap) stays null.
-#}
{% macro scaled_cap_yen(amount, percent) -%}
    case
        when ({{ amount }}) is null then null
        when
            cast({{ amount }} as decimal(18, 0))
            * cast({{ percent }} as decimal(9, 4)) * 0.01
            = trunc(
                cast({{ amount }} as decimal(18, 0))
                * cast({{ percent }} as decimal(9, 4)) * 0.01
            )
            then cast(
                cast({{ amount }} as decimal(18, 0))
                * cast({{ percent }} as decimal(9, 4)) * 0.01 as bigint
            )
        else error(
            'scaled_cap_yen: ' || cast({{ amount }} as varchar) || ' x '
            || cast({{ percent }} as varchar)
            || '% is not a whole yen amount'
        )
    end
{%- endmacro %}
