-- Traded symbols (seed symbols.csv).
with symbols as (

    select * from {{ ref('symbols') }}

),

final as (

    select
        cast(symbol_id as unsigned) as symbol_id,
        cast(symbol_code as char(20)) as symbol_code,
        cast(base_asset as char(12)) as base_asset,
        cast(quote_asset as char(12)) as quote_asset,
        cast(display_name as char(64)) as display_name
    from symbols

)

select * from final
