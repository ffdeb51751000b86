-- Each coin article repeated for every candle of its symbol that closes within
-- var news_horizon_hours after its publication: an indexed equality key for the per-candle
-- sentiment (a range join over all candles is slow in MariaDB).
{{
    config(
        materialized='table',
        post_hook=["{{ add_primary_key(['symbol_id', 'interval_id', 'open_time', 'article_id']) }}"]
    )
}}

{{ news_article_candles(
    ref('int_news_articles_joined_to_symbols'),
    ref('fact_kline'),
    var('news_horizon_hours', 72)) }}
