-- Each component score of fact_prediction equals the weighted sum of the signals of that
-- component's metrics in fact_metric_value (and nothing else). Fails on any candle where not.
-- Inside a `dbt build` only the predictions that build wrote (macro written_by_this_build).
with predictions as (

    select * from {{ ref('fact_prediction') }}
    where {{ written_by_this_build('refreshed_at') }}

),

metric_values as (

    select metric_values.*
    from {{ ref('fact_metric_value') }} as metric_values
    inner join predictions
        on metric_values.symbol_id = predictions.symbol_id
        and metric_values.interval_id = predictions.interval_id
        and metric_values.open_time = predictions.open_time

),

recomputed as (

    select
        symbol_id,
        interval_id,
        open_time,
        sum(case when component = 'trend' then coalesce(metric_signal * metric_weight, 0) else 0 end) as trend_score,
        sum(case when component = 'momentum' then coalesce(metric_signal * metric_weight, 0) else 0 end) as momentum_score,
        sum(case when component = 'volume' then coalesce(metric_signal * metric_weight, 0) else 0 end) as volume_score,
        sum(case when component = 'volatility' then coalesce(metric_signal * metric_weight, 0) else 0 end) as volatility_score
    from metric_values
    group by symbol_id, interval_id, open_time

)

select p.prediction_id, p.trend_score, r.trend_score as expected_trend_score
from predictions as p
left join recomputed as r
    on p.symbol_id = r.symbol_id
    and p.interval_id = r.interval_id
    and p.open_time = r.open_time
where abs(p.trend_score - coalesce(r.trend_score, 0)) > 1e-9
   or abs(p.momentum_score - coalesce(r.momentum_score, 0)) > 1e-9
   or abs(p.volume_score - coalesce(r.volume_score, 0)) > 1e-9
   or abs(p.volatility_score - coalesce(r.volatility_score, 0)) > 1e-9
