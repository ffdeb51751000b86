{# Post-hook: add a secondary index to a freshly created table (no-op on incremental runs). #}
{% macro add_index(name, columns) %}
    {%- if model.config.materialized == 'incremental' and is_incremental() -%}
        do 0
    {%- else -%}
        create index {{ name }} on {{ this }} ({{ columns | join(', ') }})
    {%- endif -%}
{% endmacro %}
