-- Per symbol and candle: the sentiment of the coin's articles published up to the candle's
-- close (never later), within var news_horizon_hours, weighted by source weight and by an
-- exponential recency decay with half-life var news_half_life_hours.
{{ config(post_hook=["{{ add_primary_key(['symbol_id', 'interval_id', 'open_time']) }}"]) }}

{{ news_sentiment_by_candle(
    ref('fact_kline'),
    ref('int_news_articles_expanded_to_candles'),
    var('news_half_life_hours', 12),
    var('news_horizon_hours', 72)) }}
