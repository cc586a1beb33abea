{#-
    Use a model's custom schema exactly as configured (staging, intermediate,
    marts, reference) instead of dbt's default "<target schema>_<custom>".
    Each environment has its own warehouse file (RENKEI_WAREHOUSE), so schema
    prefixes are not needed to keep environments apart, and readers (reports,
    Great Expectations) can rely on fixed names such as marts.<model>.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
