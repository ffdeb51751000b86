-- Per symbol and candle: the sentiment of the coin's articles published up to the candle's
-- close (never later), within var news_horizon_hours, weighted by source weight and by an
-- exponential recency decay with half-life var news_half_life_hours.
{{ config(post_hook=["{{ add_primary_key(['symbol_id', 'interval_id', 'open_time']) }}"]) }}

{%- set half_life_hours = var('news_half_life_hours', 12) %}
{%- set horizon_hours = var('news_horizon_hours', 72) %}

with klines as (

    select * from {{ ref('fact_kline') }}

),

articles as (

    select * from {{ ref('int_news_articles_joined_to_symbols') }}

),

weighted as (

    select
        klines.symbol_id,
        klines.interval_id,
        klines.open_time,
        klines.close_at,
        articles.article_id,
        articles.published_at,
        articles.sentiment_compound,
        articles.source_weight
            * pow(0.5, timestampdiff(second, articles.published_at, klines.close_at)
                       / 3600.0 / {{ half_life_hours }}) as article_weight,
        case when articles.published_at > date_sub(klines.close_at, interval 24 hour)
             then 1 else 0 end as is_last_24h
    from klines
    inner join articles
        on klines.symbol_id = articles.symbol_id
        and articles.published_at <= klines.close_at
        and articles.published_at > date_sub(klines.close_at, interval {{ horizon_hours }} hour)

),

aggregated as (

    select
        symbol_id,
        interval_id,
        open_time,
        count(*) as article_count,
        sum(is_last_24h) as article_count_24h,
        sum(article_weight) as weight_sum,
        sum(article_weight * sentiment_compound) as weighted_sentiment_sum,
        max(published_at) as latest_published_at
    from weighted
    group by
        symbol_id,
        interval_id,
        open_time

),

final as (

    select
        klines.symbol_id,
        klines.interval_id,
        coalesce(aggregated.article_count, 0) as article_count,
        coalesce(aggregated.article_count_24h, 0) as article_count_24h,
        cast(coalesce(aggregated.weight_sum, 0) as double) as weight_sum,
        cast(aggregated.weighted_sentiment_sum / nullif(aggregated.weight_sum, 0) as double)
            as sentiment_weighted,
        cast({{ half_life_hours }} as double) as half_life_hours,
        klines.open_time,
        klines.close_at,
        aggregated.latest_published_at
    from klines
    left join aggregated
        on klines.symbol_id = aggregated.symbol_id
        and klines.interval_id = aggregated.interval_id
        and klines.open_time = aggregated.open_time

)

select * from final
