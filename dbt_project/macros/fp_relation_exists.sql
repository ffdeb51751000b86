{# True when `relation` (e.g. a source written by Spark) exists in the database; false at parse time. #}
{% macro fp_relation_exists(relation) %}
    {%- if not execute -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set found = adapter.get_relation(
        database=relation.database, schema=relation.schema, identifier=relation.identifier) -%}
    {{ return(found is not none) }}
{% endmacro %}
