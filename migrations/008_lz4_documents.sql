-- 008_lz4_documents: a run row (request, evidence, checkpoint) is a few
-- KiB of jsonb, over the size at which PostgreSQL compresses a row before
-- it stores it. Its default compressor (pglz) was a tenth of the
-- database's CPU per recorded run; lz4 compresses as well for these
-- documents at a fraction of the cost (DESIGN 4b: the database is the
-- fleet's ceiling). Rows already stored keep their compression.
ALTER TABLE runs
  ALTER COLUMN request SET COMPRESSION lz4,
  ALTER COLUMN evidence SET COMPRESSION lz4,
  ALTER COLUMN checkpoint SET COMPRESSION lz4,
  ALTER COLUMN decision_message SET COMPRESSION lz4;
