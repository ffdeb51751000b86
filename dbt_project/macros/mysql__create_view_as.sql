{# Adapter override: MariaDB rejects `create view v as ( with ... )`, so create views without
   the parentheses dbt's default puts around the query (CTE-shaped staging models need it). #}
{% macro mysql__create_view_as(relation, sql) -%}
  {%- set sql_header = config.get('sql_header', none) -%}
  {{ sql_header if sql_header is not none }}
  create view {{ relation }} as
    {{ sql }}
{%- endmacro %}
