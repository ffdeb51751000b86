-- The news weighting on fixture articles (fixture seeds fixture_news_articles,
-- fixture_news_candles; half-life 12 h, horizon 72 h): an article published exactly at the
-- close counts, one second later does not, one older than the horizon does not, another
-- coin's article does not; the weighted average matches the hand-computed value.
with expected as (

    select * from {{ ref('fixture_news_candles') }}

),

actual as (

    {{ news_sentiment_by_candle(
        ref('fixture_news_candles'),
        '(' ~ news_article_candles(ref('fixture_news_articles'), ref('fixture_news_candles'), 72)
            ~ ') as expanded',
        12, 72) }}

)

select
    expected.*,
    actual.article_count,
    actual.article_count_24h,
    actual.sentiment_weighted
from expected
left join actual
    on expected.symbol_id = actual.symbol_id
    and expected.open_time = actual.open_time
where actual.article_count is null
   or actual.article_count <> expected.expected_article_count
   or actual.article_count_24h <> expected.expected_article_count_24h
   or (expected.expected_sentiment_weighted is null) <> (actual.sentiment_weighted is null)
   or abs(actual.sentiment_weighted - expected.expected_sentiment_weighted) > 1e-9
