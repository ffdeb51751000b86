{# Post-hook: add a primary key to a freshly created table (no-op on incremental runs). #}
{% macro add_primary_key(columns) %}
    {%- if model.config.materialized == 'incremental' and is_incremental() -%}
        do 0
    {%- else -%}
        alter table {{ this }} add primary key ({{ columns | join(', ') }})
    {%- endif -%}
{% endmacro %}
