{# Per candle of `candles` (symbol_id, interval_id, open_time, close_at): the sentiment of the
   articles published in (close_at - horizon, close_at], weighted by source_weight x
   0.5 ^ (age_hours / half_life). `article_candles` is the output of news_article_candles.
   Shared by news_sentiment_weighted_fact and its fixture test. #}
{% macro news_sentiment_by_candle(candles, article_candles, half_life_hours, horizon_hours) %}
with candles as (

    select * from {{ candles }}

),

article_candles as (

    select * from {{ article_candles }}

),

weighted as (

    select
        candles.symbol_id,
        candles.interval_id,
        candles.open_time,
        article_candles.published_at,
        article_candles.sentiment_compound,
        article_candles.source_weight
            * pow(0.5, timestampdiff(second, article_candles.published_at, candles.close_at)
                       / 3600.0 / ({{ half_life_hours }})) as article_weight,
        case when article_candles.published_at > date_sub(candles.close_at, interval 24 hour)
             then 1 else 0 end as is_last_24h
    from article_candles
    inner join candles
        on candles.symbol_id = article_candles.symbol_id
        and candles.interval_id = article_candles.interval_id
        and candles.open_time = article_candles.open_time
    where article_candles.published_at <= candles.close_at
      and article_candles.published_at > date_sub(candles.close_at, interval {{ horizon_hours }} hour)

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
        candles.symbol_id,
        candles.interval_id,
        coalesce(aggregated.article_count, 0) as article_count,
        coalesce(aggregated.article_count_24h, 0) as article_count_24h,
        cast(coalesce(aggregated.weight_sum, 0) as double) as weight_sum,
        cast(aggregated.weighted_sentiment_sum / nullif(aggregated.weight_sum, 0) as double)
            as sentiment_weighted,
        cast({{ half_life_hours }} as double) as half_life_hours,
        candles.open_time,
        candles.close_at,
        aggregated.latest_published_at
    from candles
    left join aggregated
        on candles.symbol_id = aggregated.symbol_id
        and candles.interval_id = aggregated.interval_id
        and candles.open_time = aggregated.open_time

)

select * from final
{% endmacro %}
