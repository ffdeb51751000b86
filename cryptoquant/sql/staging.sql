-- Landing tables of the staging database: the dbt sources.
-- Idempotent: `cryptoquant stack up` and `cryptoquant db init` apply it on every start.

create table if not exists raw_klines (
    symbol                  varchar(20)     not null,
    interval_code           varchar(8)      not null,
    open_time               datetime(3)     not null comment 'candle open, UTC',
    close_time              datetime(3)     not null comment 'candle close, UTC',
    open                    decimal(28, 10) not null,
    high                    decimal(28, 10) not null,
    low                     decimal(28, 10) not null,
    close                   decimal(28, 10) not null,
    volume                  decimal(36, 10) not null comment 'base asset',
    quote_volume            decimal(36, 10) null,
    trade_count             bigint          null,
    taker_buy_base_volume   decimal(36, 10) null,
    taker_buy_quote_volume  decimal(36, 10) null,
    source                  varchar(16)     not null comment 'replay, backfill or live',
    schema_version          smallint        not null,
    ingested_at             datetime(3)     not null comment 'when the producer read it, UTC',
    landed_at               datetime(3)     not null default current_timestamp(3)
                                            on update current_timestamp(3),
    kafka_partition         int             null,
    kafka_offset            bigint          null,
    primary key (symbol, interval_code, open_time),
    key ix_raw_klines_landed_at (landed_at)
) engine = InnoDB default charset = utf8mb4;

create table if not exists raw_news (
    article_id      char(64)        not null comment 'sha256 of the canonical URL',
    url             varchar(1024)   not null,
    title           varchar(1024)   not null,
    summary         text            null,
    publisher       varchar(128)    null,
    subject         varchar(64)     null,
    published_at    datetime        not null comment 'UTC',
    feed_url        varchar(1024)   null,
    source          varchar(16)     not null comment 'crawler or dataset',
    raw_sentiment   varchar(255)    null comment 'sentiment as given by the dataset, unparsed',
    schema_version  smallint        not null,
    ingested_at     datetime(3)     not null,
    landed_at       datetime(3)     not null default current_timestamp(3)
                                    on update current_timestamp(3),
    primary key (article_id),
    key ix_raw_news_published_at (published_at)
) engine = InnoDB default charset = utf8mb4;

create table if not exists dead_letter (
    dead_letter_id  bigint          not null auto_increment,
    topic           varchar(255)    not null,
    kafka_partition int             not null,
    kafka_offset    bigint          not null,
    message_key     varchar(255)    null,
    raw_payload     mediumblob      null,
    reason          varchar(1024)   not null,
    received_at     datetime(3)     not null default current_timestamp(3),
    primary key (dead_letter_id),
    unique key ux_dead_letter_position (topic, kafka_partition, kafka_offset)
) engine = InnoDB default charset = utf8mb4;

create table if not exists pipeline_runs (
    run_id          varchar(64)     not null,
    step            varchar(64)     not null,
    status          varchar(16)     not null comment 'running, success or failed',
    detail          text            null,
    started_at      datetime(3)     not null,
    finished_at     datetime(3)     null,
    primary key (run_id, step)
) engine = InnoDB default charset = utf8mb4;
