-- Per symbol and candle: the sentiment of the coin's articles published up to the candle's
-- close (never later), within var news_horizon_hours, weighted by source weight and by an
-- exponential recency decay with half-life var news_half_life_hours.
--
-- Incremental per series: a candle's row reads only that candle and its rows of
-- int_news_articles_expanded_to_candles, so the series is recomputed from its earliest candle
-- that fact_kline or the expanded articles rewrote since this model's newest row (macros
-- recompute_windows, rows_refreshed_since_this), or whose newest counted article is gone
-- (its publication is no longer an article of the symbol: a candle left without articles has
-- no expanded row to announce it). A change of var news_horizon_hours / news_half_life_hours
-- or of this SQL makes the next run a full rebuild (rebuild_when_changed).
-- depends_on: {{ ref('int_news_articles_joined_to_symbols') }}
{{
    config(
        materialized='incremental',
        unique_key=['symbol_id', 'interval_id', 'open_time'],
        on_schema_change='fail',
        rebuild_when_changed={'vars': {
            'news_horizon_hours': var('news_horizon_hours', 72),
            'news_half_life_hours': var('news_half_life_hours', 12)}},
        post_hook=["{{ add_primary_key(['symbol_id', 'interval_id', 'open_time']) }}",
                   "{{ add_index('ix_news_sentiment_weighted_fact_latest',
                                 ['symbol_id', 'latest_published_at']) }}",
                   "{{ add_index('ix_news_sentiment_weighted_fact_refreshed_at', ['refreshed_at']) }}",
                   "{{ store_build_fingerprint() }}"]
    )
}}

{%- set windows = recompute_windows(
    rows_refreshed_since_this(ref('fact_kline')) ~ " union all "
    ~ rows_refreshed_since_this(ref('int_news_articles_expanded_to_candles')) ~ " union all
    select stored.symbol_id, stored.interval_id, stored.open_time
    from " ~ this ~ " as stored
    inner join (
        select latest.symbol_id, latest.latest_published_at
        from (
            select distinct symbol_id, latest_published_at
            from " ~ this ~ "
            where latest_published_at is not null
        ) as latest
        left join " ~ ref('int_news_articles_joined_to_symbols') ~ " as articles
            on articles.symbol_id = latest.symbol_id
            and articles.published_at = latest.latest_published_at
        where articles.article_id is null
    ) as gone
        on gone.symbol_id = stored.symbol_id
        and gone.latest_published_at = stored.latest_published_at",
    0) %}

with sentiment as (

    {{ news_sentiment_by_candle(
        '(select * from ' ~ ref('fact_kline') ~ ' as klines where '
            ~ in_recompute_windows('klines', windows, since='first_changed_at') ~ ') as klines',
        '(select * from ' ~ ref('int_news_articles_expanded_to_candles') ~ ' as article_candles where '
            ~ in_recompute_windows('article_candles', windows, since='first_changed_at')
            ~ ') as article_candles',
        var('news_half_life_hours', 12),
        var('news_horizon_hours', 72)) }}

),

final as (

    select
        sentiment.*,
        {{ refreshed_at() }} as refreshed_at
    from sentiment

)

select * from final
