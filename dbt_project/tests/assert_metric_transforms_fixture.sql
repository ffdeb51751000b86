-- The metric transforms on a small series (fixture seed fixture_metric_series): change,
-- change_pct, zscore and ratio_to_mean use only the current and earlier candles of the same
-- series, and are null until their window is full. Fails on any wrong value.
with series as (

    select * from {{ ref('fixture_metric_series') }}

),

computed as (

    select
        series.*,
        {{ metric_transform('x', 'change', 2) }} as actual_change_2,
        {{ metric_transform('x', 'change_pct', 2) }} as actual_change_pct_2,
        {{ metric_transform('x', 'zscore', 3) }} as actual_zscore_3,
        {{ metric_transform('x', 'ratio_to_mean', 2) }} as actual_ratio_to_mean_2
    from series

),

compared as (

    {%- for name in ['change_2', 'change_pct_2', 'zscore_3', 'ratio_to_mean_2'] %}
    select symbol_id, open_time, '{{ name }}' as transform_name,
           expected_{{ name }} as expected_value, actual_{{ name }} as actual_value
    from computed
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}

)

select *
from compared
where (expected_value is null) <> (actual_value is null)
   or abs(expected_value - actual_value) > 1e-9
