-- metric_signal maps a value to -1..1 between threshold_start and threshold_end, clamped and
-- signed by direction (fixture seed fixture_metric_signal). Fails on any wrong signal.
with cases as (

    select * from {{ ref('fixture_metric_signal') }}

),

computed as (

    select
        case_name,
        expected_signal,
        {{ metric_signal('metric_value', 'threshold_start', 'threshold_end', 'direction_sign') }}
            as actual_signal
    from cases

)

select *
from computed
where (expected_signal is null) <> (actual_signal is null)
   or abs(expected_signal - actual_signal) > 1e-9
