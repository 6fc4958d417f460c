-- Rollups for fast history at coarse resolutions. With TimescaleDB: continuous aggregates at
-- 1 minute and 1 hour with real-time aggregation (materialized_only = false, so the newest,
-- not yet materialized buckets are computed on the fly), and compression settings for the
-- hypertable. Their refresh, compression and retention policies come from settings at start
-- (pulse_persistence.policies). On plain PostgreSQL nothing is created: queries use date_bin on
-- the raw rows, and both give the same answers (sum/count are kept so averages re-aggregate
-- exactly).

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
        EXECUTE $view$
            CREATE MATERIALIZED VIEW metrics_1m
            WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
            SELECT series_id, time_bucket(INTERVAL '1 minute', time) AS bucket,
                   min(value) AS min, max(value) AS max, avg(value) AS avg,
                   sum(value) AS sum, count(*) AS count, last(value, time) AS last
            FROM metrics GROUP BY series_id, bucket
            WITH NO DATA
        $view$;
        EXECUTE $view$
            CREATE MATERIALIZED VIEW metrics_1h
            WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
            SELECT series_id, time_bucket(INTERVAL '1 hour', time) AS bucket,
                   min(value) AS min, max(value) AS max, avg(value) AS avg,
                   sum(value) AS sum, count(*) AS count, last(value, time) AS last
            FROM metrics GROUP BY series_id, bucket
            WITH NO DATA
        $view$;
        EXECUTE $alter$
            ALTER TABLE metrics SET (
                timescaledb.compress,
                timescaledb.compress_segmentby = 'series_id',
                timescaledb.compress_orderby = 'time'
            )
        $alter$;
    END IF;
END
$$;
