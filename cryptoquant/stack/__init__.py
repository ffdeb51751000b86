"""The local stack: a private MariaDB server and a single-node Kafka broker (KRaft) under
``.stack/``, started and stopped by PID. Each can instead point at an existing server
(CQ_MYSQL_MANAGED=false / CQ_KAFKA_MANAGED=false)."""
