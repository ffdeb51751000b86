-- Everything a metric can read, one row per candle: prices, volume, the Spark indicators
-- (pivoted) and derived price/volume expressions. A metric's input_code names one of these
-- columns. Every value uses only the candle itself and earlier candles of the same series.
{{ config(post_hook=["{{ add_primary_key(['symbol_id', 'interval_id', 'open_time']) }}"]) }}

{%- set indicator_codes = [
    'rsi_14', 'ema_12', 'ema_26', 'ema_50', 'ema_200', 'macd', 'macd_signal', 'macd_hist',
    'bb_upper', 'bb_middle', 'bb_lower', 'bb_width', 'bb_percent_b', 'adx_14', 'plus_di_14',
    'minus_di_14', 'atr_14', 'obv', 'vwap'] %}

with klines as (

    select * from {{ ref('fact_kline') }}

),

indicators as (

    select * from {{ ref('fact_indicator') }}

),

indicator_types as (

    select * from {{ ref('dim_indicator_type') }}

),

news as (

    select * from {{ ref('news_sentiment_weighted_fact') }}

),

pivoted_indicators as (

    select
        indicators.symbol_id,
        indicators.interval_id,
        indicators.open_time,
        {%- for code in indicator_codes %}
        max(case when indicator_types.indicator_code = '{{ code }}'
                 then indicators.indicator_value end) as {{ code }}{{ ',' if not loop.last }}
        {%- endfor %}
    from indicators
    inner join indicator_types
        on indicators.indicator_type_id = indicator_types.indicator_type_id
    group by
        indicators.symbol_id,
        indicators.interval_id,
        indicators.open_time

),

joined as (

    select
        klines.symbol_id,
        klines.interval_id,
        cast(klines.open as double) as open,
        cast(klines.high as double) as high,
        cast(klines.low as double) as low,
        cast(klines.close as double) as close,
        cast(klines.volume as double) as volume,
        {%- for code in indicator_codes %}
        pivoted_indicators.{{ code }},
        {%- endfor %}
        news.sentiment_weighted as news_sentiment,
        klines.is_placeholder_candle,
        klines.open_time
    from klines
    left join pivoted_indicators
        on klines.symbol_id = pivoted_indicators.symbol_id
        and klines.interval_id = pivoted_indicators.interval_id
        and klines.open_time = pivoted_indicators.open_time
    left join news
        on klines.symbol_id = news.symbol_id
        and klines.interval_id = news.interval_id
        and klines.open_time = news.open_time

),

final as (

    select
        joined.*,
        close / nullif(ema_50, 0) - 1 as close_ema_50_pct,
        close / nullif(ema_200, 0) - 1 as close_ema_200_pct,
        ema_12 / nullif(ema_26, 0) - 1 as ema_12_26_spread_pct,
        plus_di_14 - minus_di_14 as di_spread,
        macd_hist / nullif(close, 0) as macd_hist_pct,
        close / nullif(vwap, 0) - 1 as close_vwap_pct,
        atr_14 / nullif(close, 0) as atr_pct,
        volume * sign(close - open) as signed_volume,
        (close - lag(close) over (partition by symbol_id, interval_id order by open_time))
            / nullif(lag(atr_14) over (partition by symbol_id, interval_id order by open_time), 0)
            as atr_move,
        case
            when count(bb_width) over (
                partition by symbol_id, interval_id order by open_time
                rows between {{ var('squeeze_lookback_candles', 120) }} preceding and 1 preceding
            ) = {{ var('squeeze_lookback_candles', 120) }}
            then bb_width / nullif(avg(bb_width) over (
                partition by symbol_id, interval_id order by open_time
                rows between {{ var('squeeze_lookback_candles', 120) }} preceding and 1 preceding
            ), 0)
        end as bb_width_ratio
    from joined

)

select * from final
