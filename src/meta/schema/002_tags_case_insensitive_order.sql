-- Schema version 2: the distribution-spec wants tags in case-insensitive lexical order.
-- This index lets tag listing and its `last` pagination stay an index range scan.
CREATE INDEX tags_nocase ON tags(repo_id, name COLLATE NOCASE, name);
