-- Scored articles, one row per (article, symbol it concerns via its coin tag): the input of
-- the per-candle sentiment. A table with an index for the time-range join.
{{
    config(
        materialized='table',
        post_hook=["{{ add_primary_key(['symbol_id', 'published_at', 'article_id']) }}"]
    )
}}

with articles as (

    select * from {{ ref('fact_news_article') }}
    where is_scored = 1

),

article_tags as (

    select * from {{ ref('bridge_news_article_tag') }}

),

tags as (

    select * from {{ ref('tag_dim') }}
    where tag_type = 'coin'
      and symbol_id is not null

),

final as (

    select
        tags.symbol_id,
        articles.article_id,
        articles.news_source_code,
        articles.source_weight,
        articles.sentiment_compound,
        articles.published_at
    from articles
    inner join article_tags
        on articles.article_id = article_tags.article_id
    inner join tags
        on article_tags.tag_id = tags.tag_id

)

select * from final
