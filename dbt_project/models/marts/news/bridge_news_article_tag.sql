-- Bridge between articles and tag_dim (coins and topics), from the news_sentiment step.
{{ config(post_hook=["{{ add_primary_key(['article_id', 'tag_id']) }}"]) }}

with article_tags as (

    select * from {{ ref('stg_news__tags') }}

),

articles as (

    select * from {{ ref('stg_news__articles') }}

),

tags as (

    select * from {{ ref('tag_dim') }}

),

final as (

    select distinct
        article_tags.article_id,
        tags.tag_id,
        tags.tag_code
    from article_tags
    inner join articles
        on article_tags.article_id = articles.article_id
    inner join tags
        on article_tags.tag_code = tags.tag_code

)

select * from final
