-- 007_record_in_one_statement: a run that needs no tool (a dry run, a
-- refusal, a run parked for a human before execute) is recorded by the
-- worker in one statement, its pending approval included (DESIGN 4b). The
-- approval's id goes into the run row and the decision message in that same
-- statement, so the worker chooses it (a random UUID) and must be allowed
-- to insert it. Deciding an approval stays the approver's alone.
GRANT INSERT (id) ON approvals TO qf_worker;
