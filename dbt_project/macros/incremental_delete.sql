{# Override of dbt-mysql's incremental delete: a join instead of `(keys) in (select ...)`,
   which MariaDB runs as a slow dependent subquery (15 s for 8,640 candles; now well under 1 s). #}
{% macro incremental_delete(tmp_relation, target_relation, unique_key=none, statement_name="pre_main") %}
    {%- if unique_key is not none and unique_key | length -%}
    {%- set keys = [unique_key] if unique_key is string else unique_key -%}
    delete {{ target_relation }}
    from {{ target_relation }}
    inner join {{ tmp_relation }}
        on {% for key in keys %}{{ target_relation }}.{{ key }} = {{ tmp_relation }}.{{ key }}{% if not loop.last %} and {% endif %}{% endfor %}
    {%- endif %}
{%- endmacro %}
