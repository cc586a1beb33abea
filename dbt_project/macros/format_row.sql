{#-
    Override of dbt-core 1.11's format_row (global_project/macros/
    unit_test_sql/get_fixture_sql.sql), changed in one place: a blank value
    read from a seed CSV is NULL for a non-text column, as `dbt seed` loads
    it. Without this, a unit test that reads a seed with blank numbers from
    disk (e.g. high_cost_caps, where a tier has no 多数回 amount) fails with
    "Could not convert string '' to INT32". Re-check when dbt-core is
    upgraded (the project pins >=1.11,<1.12).
-#}
{%- macro format_row(row, column_name_to_data_types) -%}
    {#-- generate case-insensitive formatted row --#}
    {% set formatted_row = {} %}
    {%- for column_name, column_value in row.items() -%}
        {% set column_name = column_name|lower %}

        {%- if column_name not in column_name_to_data_types %}
            {#-- if user-provided row contains column name that relation does not contain, raise an error --#}
            {% set fixture_name = "expected output" if model.resource_type == 'unit_test' else ("'" ~ model.name ~ "'") %}
            {{ exceptions.raise_compiler_error(
                "Invalid column name: '" ~ column_name ~ "' in unit test fixture for " ~ fixture_name ~ "."
                "\nAccepted columns for " ~ fixture_name ~ " are: " ~ (column_name_to_data_types.keys()|list)
            ) }}
        {%- endif -%}

        {%- set column_type = column_name_to_data_types[column_name] %}

        {#-- For string fixture values, strip varchar length to prevent silent truncation (GH-11974) --#}
        {%- if column_value is string and 'varying' in column_type -%}
            {%- set column_type = column_type.split('(')[0] -%}
        {%- endif -%}

        {#-- renkei: a blank seed cell in a non-text column is NULL --#}
        {%- if column_value is string and column_value == ''
            and 'char' not in column_type|lower
            and 'text' not in column_type|lower -%}
            {%- set column_value = none -%}
        {%- endif -%}

        {#-- sanitize column_value: wrap yaml strings in quotes, apply cast --#}
        {%- set column_value_clean = column_value -%}
        {%- if column_value is string -%}
            {%- set column_value_clean = dbt.string_literal(dbt.escape_single_quotes(column_value)) -%}
        {%- elif column_value is none -%}
            {%- set column_value_clean = 'null' -%}
        {%- endif -%}

        {%- set row_update = {column_name: safe_cast(column_value_clean, column_type) } -%}
        {%- do formatted_row.update(row_update) -%}
    {%- endfor -%}
    {{ return(formatted_row) }}
{%- endmacro -%}
