{#-
    Rule: a member counts for a month (for the intermediary server fee) when
    enrolled at the END of that month, the same anchor as for premiums: the
    month of acquisition (資格取得) counts, the month of loss (資格喪失) does
    not.
        acquired_date <= month_end
        and (lost_date is null or lost_date > month_end)
    lost_date is the 資格喪失年月日, the first day NOT enrolled: a member who
    retires on the last day of a month loses on the 1st of the next month and
    still counts for that month.
    Unlike premiums, 同月得喪 (acquired and lost in the same month) does NOT
    count here: such a member is not enrolled at the month end.
    Source: domain reference DOMAIN.md section 1 item 5 (a flat fee per
    member per month); which members a month counts is not published there,
    so the month-end anchor is the platform's documented choice [u]: confirm
    it against the 支払基金 billing notice and change it only here.
-#}
{% macro counts_for_month(acquired_date, lost_date, month_end) -%}
    (
        {{ acquired_date }} <= {{ month_end }}
        and (
            {{ lost_date }} is null
            or {{ lost_date }} > {{ month_end }}
        )
    )
{%- endmacro %}
