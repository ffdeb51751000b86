{%- set w = backtest_parameter('regression_window_candles') | int -%}
-- Rolling OLS of the close on time over the last {{ w }} candles of each series, at every candle
-- with a full window: slope, R², fitted close, ±2σ residual band and the residual's z-score.
-- Time is in candles since the series' first candle (an outage gap counts its missing candles);
-- the fit comes from window sums (n, Σx, Σy, Σx², Σxy, Σy²) in SQL.
--
-- Incremental per series: a candle's fit reads that candle and the {{ w - 1 }} before it, so
-- when fact_kline rewrote candles since this model's newest row, the series is recomputed
-- from its earliest rewritten candle to its end, reading candles from {{ w - 1 }} before it
-- (macros recompute_windows, rows_refreshed_since_this); x still counts from the series'
-- first candle in fact_kline. The window sums are exact decimals (x and the close are
-- decimals), so they do not depend on where the read started: an incremental run gives a full
-- build's numbers bit for bit. A change of this SQL, of dim_interval or of the window makes
-- the next run a full rebuild.
-- depends_on: {{ ref('fact_kline_gap') }} (the look-back, incremental runs)
{{
    config(
        materialized='incremental',
        unique_key=['symbol_id', 'interval_id', 'open_time'],
        on_schema_change='fail',
        rebuild_when_changed={'relations': ['dim_interval'],
                              'vars': {'regression_window_candles': w}},
        post_hook=["{{ add_primary_key(['symbol_id', 'interval_id', 'open_time']) }}",
                   "{{ add_index('ix_mart_price_regression_refreshed_at', ['refreshed_at']) }}",
                   "{{ store_build_fingerprint() }}"]
    )
}}

{#- per series: the earliest rewritten candle and where the candles must be read from #}
{%- set windows = recompute_windows(rows_refreshed_since_this(ref('fact_kline')), w - 1,
                                    ref('dim_interval'), ref('fact_kline_gap')) %}

with klines as (

    select symbol_id, interval_id, open_time, close
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
    where {{ in_recompute_windows('klines', windows) }}

),

-- Exact decimal sums (x has four decimals, the close ten): a moving double sum would carry
-- the rounding of every candle that entered and left the window since the read started.
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

-- The centred sums n·Sxx = n·Σx² - (Σx)² etc. still exact, then doubles.
centred as (

    select
        symbol_id,
        interval_id,
        open_time,
        n,
        cast(close as double) as close,
        cast(x as double) as x,
        cast(sum_x as double) as sum_x,
        cast(sum_y as double) as sum_y,
        cast(n * sum_xx - sum_x * sum_x as double) / n as s_xx,
        cast(n * sum_xy - sum_x * sum_y as double) / n as s_xy,
        cast(n * sum_yy - sum_y * sum_y as double) / n as s_yy
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
        open_time,
        {{ refreshed_at() }} as refreshed_at
    from fit
    where {{ in_recompute_windows('fit', windows, since='first_changed_at') }}

)

select * from final
