{# SQL of (partition_value, position) for the rows where `new_rows` and this model's stored rows differ in `columns` (null-safe), or exist on one side only. #}
{#- A plain comparison of what the model last consumed with what it would consume now: no
    load-time column is needed upstream, and a row that vanished (a scope's trades ending
    earlier) is found as well as a new or changed one. `new_rows` is a relation or a
    parenthesised query with the `partition` and `position` columns and `columns`. -#}
{% macro backtest_rows_differing(new_rows, partition, position, columns) %}
    select new_rows.{{ partition }} as partition_value, new_rows.{{ position }} as position
    from {{ new_rows }} as new_rows
    left join {{ this }} as stored
        on stored.{{ partition }} = new_rows.{{ partition }}
        and stored.{{ position }} = new_rows.{{ position }}
    where stored.{{ position }} is null
        {%- for column in columns %}
        or not (stored.{{ column }} <=> new_rows.{{ column }})
        {%- endfor %}
    union all
    select stored.{{ partition }}, stored.{{ position }}
    from {{ this }} as stored
    left join {{ new_rows }} as new_rows
        on stored.{{ partition }} = new_rows.{{ partition }}
        and stored.{{ position }} = new_rows.{{ position }}
    where new_rows.{{ position }} is null
{% endmacro %}
