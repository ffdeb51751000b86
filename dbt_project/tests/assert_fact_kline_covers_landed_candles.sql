-- Every landed candle of a configured symbol and interval reaches fact_kline (nothing is
-- dropped by the dimension joins or the incremental filter).
select staged.symbol_code, staged.interval_code, staged.open_time
from {{ ref('stg_binance__klines') }} as staged
inner join {{ ref('dim_symbol') }} as s on staged.symbol_code = s.symbol_code
inner join {{ ref('dim_interval') }} as i on staged.interval_code = i.interval_code
left join {{ ref('fact_kline') }} as k
    on k.symbol_id = s.symbol_id
    and k.interval_id = i.interval_id
    and k.open_time = staged.open_time
where k.open_time is null
