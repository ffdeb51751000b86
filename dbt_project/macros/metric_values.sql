{# fact_metric_value's query, generated from the active rows of dim_metric: one select per
   metric (its input, transform and window), unioned, then mapped to a signal with the metric's
   thresholds. Adding or switching off a metric is a seed edit, never a SQL edit.
   On incremental runs `windows` (see recompute_windows) limits the inputs to each changed
   series' recompute window and the output to its candles from the first change on. Every
   row carries refreshed_at (the dbt run that wrote it). #}
{% macro metric_values(inputs, metrics, windows=none) %}
{%- set active = [] -%}
{%- if execute -%}
    {%- set available = adapter.get_columns_in_relation(inputs) | map(attribute='name') | map('lower') | list -%}
    {%- set result = run_query(
        "select metric_id, metric_code, input_code, transform, window_size from " ~ metrics
        ~ " where is_active = 1 order by metric_id") -%}
    {%- for row in result.rows -%}
        {%- if row[2] | lower not in available -%}
            {{ exceptions.raise_compiler_error(
                "metric " ~ row[1] ~ " reads input_code '" ~ row[2] ~ "', which is not a column of "
                ~ inputs ~ " (available: " ~ available | join(', ') ~ ")") }}
        {%- endif -%}
        {%- do active.append(row) -%}
    {%- endfor -%}
{%- endif %}

with inputs as (

    select * from {{ inputs }} as inputs
    where {{ in_recompute_windows('inputs', windows) }}

),

metric_config as (

    select * from {{ metrics }}
    where is_active = 1

),

evaluated as (

    {%- for m in active %}
    select
        symbol_id,
        interval_id,
        cast({{ m[0] }} as unsigned) as metric_id,
        cast({{ metric_transform(m[2] | lower, m[3], m[4]) }} as double) as metric_value,
        open_time
    from inputs
    {% if not loop.last %}union all{% endif %}
    {%- else %}
    select
        symbol_id,
        interval_id,
        cast(null as unsigned) as metric_id,
        cast(null as double) as metric_value,
        open_time
    from inputs
    where 1 = 0
    {%- endfor %}

),

final as (

    select
        evaluated.symbol_id,
        evaluated.interval_id,
        evaluated.metric_id,
        metric_config.metric_code,
        metric_config.component,
        metric_config.direction,
        evaluated.metric_value,
        {{ metric_signal('evaluated.metric_value', 'metric_config.threshold_start',
                         'metric_config.threshold_end', 'metric_config.direction_sign') }}
            as metric_signal,
        metric_config.metric_weight,
        evaluated.open_time,
        {{ refreshed_at() }} as refreshed_at
    from evaluated
    inner join metric_config
        on evaluated.metric_id = metric_config.metric_id
    where {{ in_recompute_windows('evaluated', windows, since='first_changed_at') }}

)

select * from final
{% endmacro %}
