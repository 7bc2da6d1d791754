-- Schema version 1: repositories, blobs, links, manifests, tags, referrers, uploads.
-- Timestamps are Unix seconds. Digests are "algorithm:hex" text.

-- One row per repository; created on the first blob link or manifest push.
CREATE TABLE repositories (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

-- One row per committed blob, whatever the number of repositories using it.
CREATE TABLE blobs (
    digest     TEXT PRIMARY KEY,
    size       INTEGER NOT NULL,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;

-- Which repositories may serve which blobs (a repository serves only its own links).
CREATE TABLE repo_blobs (
    repo_id    INTEGER NOT NULL REFERENCES repositories(id),
    digest     TEXT NOT NULL REFERENCES blobs(digest),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (repo_id, digest)
) WITHOUT ROWID;
CREATE INDEX repo_blobs_by_digest ON repo_blobs(digest);

-- Manifests with their exact pushed bytes. subject feeds the referrers API.
CREATE TABLE manifests (
    repo_id       INTEGER NOT NULL REFERENCES repositories(id),
    digest        TEXT NOT NULL,
    media_type    TEXT NOT NULL,
    artifact_type TEXT NOT NULL DEFAULT '',
    subject       TEXT,
    annotations   TEXT NOT NULL DEFAULT '',
    size          INTEGER NOT NULL,
    body          BLOB NOT NULL,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (repo_id, digest)
) WITHOUT ROWID;
CREATE INDEX manifests_by_subject ON manifests(repo_id, subject) WHERE subject IS NOT NULL;

-- What each manifest references (layers, config, child manifests): GC reachability.
CREATE TABLE manifest_refs (
    repo_id INTEGER NOT NULL,
    parent  TEXT NOT NULL,
    child   TEXT NOT NULL,
    kind    INTEGER NOT NULL,  -- 0 blob, 1 manifest
    PRIMARY KEY (repo_id, parent, child)
) WITHOUT ROWID;
CREATE INDEX manifest_refs_by_child ON manifest_refs(repo_id, child);

CREATE TABLE tags (
    repo_id    INTEGER NOT NULL REFERENCES repositories(id),
    name       TEXT NOT NULL,
    digest     TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (repo_id, name)
) WITHOUT ROWID;
CREATE INDEX tags_by_digest ON tags(repo_id, digest);

-- Upload sessions: resumable across restarts and nodes until they expire.
CREATE TABLE uploads (
    id         TEXT PRIMARY KEY,
    repo       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX uploads_by_age ON uploads(updated_at);
