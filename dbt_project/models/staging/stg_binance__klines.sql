-- Landed candles, renamed and classified: one row per (symbol, interval, open_time).
with source as (

    select * from {{ source('staging', 'raw_klines') }}

),

renamed as (

    select
        symbol as symbol_code,
        interval_code,
        source as load_source,
        cast(open as decimal(28, 10)) as open,
        cast(high as decimal(28, 10)) as high,
        cast(low as decimal(28, 10)) as low,
        cast(close as decimal(28, 10)) as close,
        cast(volume as decimal(36, 10)) as volume,
        cast(quote_volume as decimal(36, 10)) as quote_volume,
        trade_count,
        cast(taker_buy_base_volume as decimal(36, 10)) as taker_buy_base_volume,
        cast(taker_buy_quote_volume as decimal(36, 10)) as taker_buy_quote_volume,
        case
            when volume = 0 and open = high and high = low and low = close then 1
            else 0
        end as is_placeholder_candle,
        cast(open_time as datetime) as open_time,
        close_time,
        ingested_at,
        landed_at
    from source

)

select * from renamed
