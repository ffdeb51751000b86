{# Generic test: consecutive candles of a series are one interval apart, except across a
   recorded exchange outage (failing rows: the unexplained gaps). #}
{% test no_kline_gaps(model, column_name, outages) %}
{#- a gap can lie between a kept candle and a new one: every row, also inside a build -#}
{{ config(meta={'check_all_rows': true}) }}
with candles as (
    select
        k.symbol_id,
        k.interval_id,
        i.interval_seconds,
        k.{{ column_name }} as open_time,
        lag(k.{{ column_name }}) over (
            partition by k.symbol_id, k.interval_id order by k.{{ column_name }}
        ) as previous_open_time
    from {{ model }} as k
    inner join {{ ref('dim_interval') }} as i
        on k.interval_id = i.interval_id
),
gaps as (
    select
        symbol_id,
        interval_id,
        date_add(previous_open_time, interval interval_seconds second) as gap_start_at,
        open_time as gap_end_at
    from candles
    where timestampdiff(second, previous_open_time, open_time) > interval_seconds
)
select gaps.*
from gaps
where not exists (
    select 1
    from {{ outages }} as o
    where gaps.gap_start_at >= o.outage_start_at
      and gaps.gap_end_at <= o.outage_end_at
)
{% endtest %}
