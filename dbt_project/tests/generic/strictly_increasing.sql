{# Generic test: column_name strictly increases within each partition when ordered by order_by
   (failing rows: a value not greater than its predecessor). #}
{% test strictly_increasing(model, column_name, partition_by, order_by=none) %}
{#- compares each row with its predecessor, which may be a kept row: every row, also inside a
    build -#}
{{ config(meta={'check_all_rows': true}) }}
with ordered as (
    select
        {{ partition_by | join(', ') }},
        {{ column_name }} as current_value,
        lag({{ column_name }}) over (
            partition by {{ partition_by | join(', ') }}
            order by {{ order_by or column_name }}
        ) as previous_value
    from {{ model }}
)
select *
from ordered
where previous_value is not null
  and current_value <= previous_value
{% endtest %}
