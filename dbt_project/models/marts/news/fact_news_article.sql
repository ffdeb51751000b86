-- One row per landed article with its sentiment (VADER + crypto lexicon) and source weight.
{{ config(post_hook=["{{ add_primary_key(['article_id']) }}"]) }}

with articles as (

    select * from {{ ref('stg_news__articles') }}

),

scores as (

    select * from {{ ref('stg_news__scores') }}

),

sources as (

    select * from {{ ref('news_sources') }}

),

final as (

    select
        articles.article_id,
        articles.title,
        articles.url,
        articles.publisher,
        coalesce(known_source.news_source_code, 'unknown') as news_source_code,
        coalesce(known_source.source_weight, fallback_source.source_weight) as source_weight,
        scores.sentiment_compound,
        scores.sentiment_positive,
        scores.sentiment_negative,
        scores.sentiment_neutral,
        scores.lexicon_version,
        case when scores.article_id is not null then 1 else 0 end as is_scored,
        articles.published_at
    from articles
    left join scores
        on articles.article_id = scores.article_id
    left join sources as known_source
        on articles.news_source_code = known_source.news_source_code
    left join sources as fallback_source
        on fallback_source.news_source_code = 'unknown'

)

select * from final
