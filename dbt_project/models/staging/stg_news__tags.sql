-- Coin and topic tags per article from the news_sentiment step. Ephemeral so that the base
-- stage never needs the table (it is read only by the news marts).
{{ config(materialized='ephemeral') }}

with source as (

    select * from {{ source('staging', 'news_tags') }}

),

renamed as (

    select
        article_id,
        lower(tag_code) as tag_code,
        tagged_at
    from source

)

select * from renamed
