-- 005_schema_visible: the services read the schema's version at start, to
-- refuse a database older than the one they were built for (with the
-- command to run) rather than fail later on a missing column.
GRANT SELECT ON schema_migrations TO qf_worker, qf_approver;
