-- Sentiment per article from the news_sentiment step. Ephemeral (see stg_news__tags).
{{ config(materialized='ephemeral') }}

with source as (

    select * from {{ source('staging', 'news_scores') }}

),

renamed as (

    select
        article_id,
        lexicon_version,
        cast(sentiment_compound as double) as sentiment_compound,
        cast(sentiment_positive as double) as sentiment_positive,
        cast(sentiment_negative as double) as sentiment_negative,
        cast(sentiment_neutral as double) as sentiment_neutral,
        scored_at
    from source

)

select * from renamed
