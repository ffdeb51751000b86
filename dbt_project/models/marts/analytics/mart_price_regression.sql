{%- set w = backtest_parameter('regression_window_candles') | int -%}
-- Rolling OLS of the close on time over the last {{ w }} candles of each series, at every candle
-- with a full window: slope, R², fitted close, ±2σ residual band and the residual's z-score.
-- Time is in candles since the series' first candle (an outage gap counts its missing candles);
-- the fit comes from window sums (n, Σx, Σy, Σx², Σxy, Σy²) in SQL.
{{ config(post_hook=["{{ add_primary_key(['symbol_id', 'interval_id', 'open_time']) }}"]) }}

with klines as (

    select symbol_id, interval_id, open_time, cast(close as double) as close
    from {{ ref('fact_kline') }}

),

intervals as (

    select interval_id, interval_seconds from {{ ref('dim_interval') }}

),

-- The series' first candle by a grouped join: MariaDB 10.11 evaluates a whole-partition
-- `min() over (partition by ...)` row by row over the partition (quadratic: 71 s for 72k
-- candles, hours at 1.5M), a group by once.
series_start as (

    select symbol_id, interval_id, min(open_time) as first_open_time
    from klines
    group by symbol_id, interval_id

),

timed as (

    select
        klines.*,
        timestampdiff(second, series_start.first_open_time, klines.open_time)
            / intervals.interval_seconds as x
    from klines
    inner join series_start
        on klines.symbol_id = series_start.symbol_id
        and klines.interval_id = series_start.interval_id
    inner join intervals
        on klines.interval_id = intervals.interval_id

),

sums as (

    select
        timed.*,
        count(*) over fit_window as n,
        sum(x) over fit_window as sum_x,
        sum(close) over fit_window as sum_y,
        sum(x * x) over fit_window as sum_xx,
        sum(x * close) over fit_window as sum_xy,
        sum(close * close) over fit_window as sum_yy
    from timed
    window fit_window as (
        partition by symbol_id, interval_id order by open_time
        rows between {{ w - 1 }} preceding and current row
    )

),

centred as (

    select
        sums.*,
        sum_xx - sum_x * sum_x / n as s_xx,
        sum_xy - sum_x * sum_y / n as s_xy,
        sum_yy - sum_y * sum_y / n as s_yy
    from sums
    where n = {{ w }}

),

fit as (

    select
        centred.*,
        s_xy / s_xx as slope,
        (sum_y - s_xy / s_xx * sum_x) / n as intercept,
        greatest(s_yy - s_xy * s_xy / s_xx, 0) as sse
    from centred

),

final as (

    select
        symbol_id,
        interval_id,
        cast(n as signed) as window_candles,
        cast(slope as double) as slope,
        cast(100 * slope / nullif(intercept + slope * x, 0) as double) as slope_pct,
        cast(1 - sse / nullif(s_yy, 0) as double) as r_squared,
        cast(intercept + slope * x as double) as fitted_close,
        cast(close - (intercept + slope * x) as double) as residual,
        cast(sqrt(sse / (n - 2)) as double) as residual_std,
        cast(intercept + slope * x + 2 * sqrt(sse / (n - 2)) as double) as upper_band,
        cast(intercept + slope * x - 2 * sqrt(sse / (n - 2)) as double) as lower_band,
        cast((close - (intercept + slope * x)) / nullif(sqrt(sse / (n - 2)), 0) as double)
            as residual_zscore,
        open_time
    from fit

)

select * from final
