-- News tags: coins and topics (seed tags.csv). Coin tags link to the symbol they concern.
with tags as (

    select * from {{ ref('tags') }}

),

symbols as (

    select * from {{ ref('dim_symbol') }}

),

final as (

    select
        crc32(tags.tag_code) as tag_id,
        symbols.symbol_id,
        cast(tags.tag_code as char(32)) as tag_code,
        cast(tags.tag_type as char(8)) as tag_type,
        cast(tags.tag_name as char(64)) as tag_name,
        cast(tags.description as char(512)) as description
    from tags
    left join symbols
        on tags.symbol_code = symbols.symbol_code

)

select * from final
