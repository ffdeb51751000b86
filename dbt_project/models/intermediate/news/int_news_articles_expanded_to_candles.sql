-- Each coin article repeated for every candle of its symbol that closes within
-- var news_horizon_hours after its publication: an indexed equality key for the per-candle
-- sentiment (a range join over all candles is slow in MariaDB).
--
-- Incremental per series (macro news_article_candle_windows): from the earliest candle whose
-- rows may differ - a candle fact_kline rewrote since this model last wrote (the candle span
-- of an interval bounds every symbol's rows), or one interval before the old and the new
-- publication of an article that is new, re-scored, re-weighted, moved or no longer tagged -
-- the stored rows are deleted (pre-hook news_delete_windows) and recomputed from the articles
-- that can reach them. refreshed_at marks the rewritten rows: the change feed of
-- news_sentiment_weighted_fact. A change of var news_horizon_hours or of this SQL makes the
-- next run a full rebuild (rebuild_when_changed; after editing the macros run --full-refresh).
-- depends_on: {{ ref('dim_interval') }}
{{
    config(
        materialized='incremental',
        unique_key=['symbol_id', 'interval_id', 'open_time', 'article_id'],
        on_schema_change='fail',
        rebuild_when_changed={'vars': {'news_horizon_hours': var('news_horizon_hours', 72)}},
        pre_hook=["{{ news_delete_windows(news_article_candle_windows(
                       ref('int_news_articles_joined_to_symbols'), ref('fact_kline'),
                       ref('dim_interval'), var('news_horizon_hours', 72))) }}"],
        post_hook=["{{ add_primary_key(['symbol_id', 'interval_id', 'open_time', 'article_id']) }}",
                   "{{ add_index('ix_int_news_articles_expanded_article',
                                 ['symbol_id', 'article_id', 'published_at', 'source_weight',
                                  'sentiment_compound']) }}",
                   "{{ add_index('ix_int_news_articles_expanded_refreshed_at', ['refreshed_at']) }}",
                   "{{ store_build_fingerprint() }}"]
    )
}}

{%- set windows = news_article_candle_windows(
    ref('int_news_articles_joined_to_symbols'), ref('fact_kline'), ref('dim_interval'),
    var('news_horizon_hours', 72)) %}

with article_candles as (

    {{ news_article_candles(
        ref('int_news_articles_joined_to_symbols'),
        ref('fact_kline'),
        var('news_horizon_hours', 72),
        windows) }}

),

final as (

    select
        article_candles.*,
        {{ refreshed_at() }} as refreshed_at
    from article_candles

)

select * from final
