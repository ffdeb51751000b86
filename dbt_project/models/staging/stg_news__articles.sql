-- Landed news articles with a normalised source code for the source-weight seed.
with source as (

    select * from {{ source('staging', 'raw_news') }}

),

renamed as (

    select
        article_id,
        url,
        title,
        summary,
        publisher,
        lower(replace(coalesce(publisher, 'unknown'), ' ', '')) as news_source_code,
        subject,
        source as load_source,
        published_at,
        ingested_at,
        landed_at
    from source

)

select * from renamed
