{#-
    Rule: money is whole yen. A fraction under one yen is truncated (切り捨て),
    following 国等の債権債務等の金額の端数計算に関する法律 第2条. The renkei
    platform applies it once per branch-month amount (never per member).
    The expression must be exact (decimal, no floats): it is widened to
    decimal(38, 6) first, truncated toward zero, then cast. The truncation
    comes first because DuckDB rounds when it casts a decimal to an integer.
-#}
{% macro yen_amount(expr) -%}
    cast(trunc(cast({{ expr }} as decimal(38, 6))) as bigint)
{%- endmacro %}
