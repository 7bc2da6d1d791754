-- Schema version 3: identities, namespaces, roles, machine credentials, signing keys,
-- login throttling and the audit trail. Roles are integers: 0 none, 1 read, 2 write,
-- 3 delete, 4 admin (each includes the ones below).

-- The first path component of a repository name. A user owns the namespace of their name;
-- an organisation is a namespace of kind 'org'. Ids are never reused, so a credential
-- naming a deleted namespace cannot reach one re-created under the same name.
CREATE TABLE namespaces (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    name               TEXT NOT NULL UNIQUE,
    kind               TEXT NOT NULL CHECK (kind IN ('user', 'org')),
    default_visibility TEXT NOT NULL DEFAULT 'private' CHECK (default_visibility IN ('public', 'private')),
    description        TEXT NOT NULL DEFAULT '',
    created_at         INTEGER NOT NULL
);

-- password_hash: libsodium Argon2id string, a bcrypt string imported from htpasswd, or ''
-- for accounts that authenticate elsewhere (LDAP, client certificate).
CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT NOT NULL UNIQUE,
    ns_id         INTEGER NOT NULL REFERENCES namespaces(id),
    password_hash TEXT NOT NULL DEFAULT '',
    email         TEXT NOT NULL DEFAULT '',
    admin         INTEGER NOT NULL DEFAULT 0,
    disabled      INTEGER NOT NULL DEFAULT 0,
    source        TEXT NOT NULL DEFAULT 'local' CHECK (source IN ('local', 'ldap')),
    created_at    INTEGER NOT NULL
);

-- Organisation membership with the member's organisation-wide role (0: member only).
CREATE TABLE org_members (
    org_id  INTEGER NOT NULL REFERENCES namespaces(id),
    user_id INTEGER NOT NULL REFERENCES users(id),
    role    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (org_id, user_id)
) WITHOUT ROWID;
CREATE INDEX org_members_by_user ON org_members(user_id);

-- Teams hold an organisation-wide role for their members; ldap_group links a directory group
-- whose members are synchronised into the team at LDAP login.
CREATE TABLE teams (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id     INTEGER NOT NULL REFERENCES namespaces(id),
    name       TEXT NOT NULL,
    role       INTEGER NOT NULL DEFAULT 0,
    ldap_group TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    UNIQUE (org_id, name)
);

CREATE TABLE team_members (
    team_id INTEGER NOT NULL REFERENCES teams(id),
    user_id INTEGER NOT NULL REFERENCES users(id),
    PRIMARY KEY (team_id, user_id)
) WITHOUT ROWID;
CREATE INDEX team_members_by_user ON team_members(user_id);

-- Robot accounts belong to an organisation; they log in as "<org>+<name>" with a secret
-- stored as its SHA-256 (the secret is 256 random bits, so a slow hash adds nothing).
CREATE TABLE robots (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id      INTEGER NOT NULL REFERENCES namespaces(id),
    name        TEXT NOT NULL,
    secret_hash TEXT NOT NULL UNIQUE,
    role        INTEGER NOT NULL DEFAULT 0,
    description TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL DEFAULT 0,
    disabled    INTEGER NOT NULL DEFAULT 0,
    UNIQUE (org_id, name)
);

-- Roles on one repository, by full repository name (may be granted before the first push).
-- subject_kind: 'user', 'team' or 'robot'.
CREATE TABLE repo_grants (
    repo         TEXT NOT NULL,
    subject_kind TEXT NOT NULL,
    subject_id   INTEGER NOT NULL,
    role         INTEGER NOT NULL,
    PRIMARY KEY (repo, subject_kind, subject_id)
) WITHOUT ROWID;
CREATE INDEX repo_grants_by_subject ON repo_grants(subject_kind, subject_id);

-- Visibility set on a repository; absent: the namespace's default.
CREATE TABLE repo_settings (
    repo       TEXT PRIMARY KEY,
    visibility TEXT NOT NULL CHECK (visibility IN ('public', 'private'))
) WITHOUT ROWID;

-- Personal access tokens: scopes is a space-separated subset of "pull push delete manage".
CREATE TABLE access_tokens (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     INTEGER NOT NULL REFERENCES users(id),
    name        TEXT NOT NULL,
    secret_hash TEXT NOT NULL UNIQUE,
    scopes      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    last_used   INTEGER NOT NULL DEFAULT 0,
    revoked     INTEGER NOT NULL DEFAULT 0,
    UNIQUE (user_id, name)
);

-- Refresh tokens handed to `docker login`-style clients (token endpoint, offline access).
CREATE TABLE refresh_tokens (
    secret_hash  TEXT PRIMARY KEY,
    subject_kind TEXT NOT NULL,  -- 'user', 'robot' or 'pat'
    subject_id   INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX refresh_tokens_by_subject ON refresh_tokens(subject_kind, subject_id);

-- ES256 token signing keys. The newest key not retired signs; every key verifies until purged.
CREATE TABLE signing_keys (
    kid         TEXT PRIMARY KEY,
    private_pem TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    retired_at  INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- Failed-login counters per user name and per client address (shared by every node).
CREATE TABLE login_failures (
    key          TEXT PRIMARY KEY,
    failures     INTEGER NOT NULL,
    window_start INTEGER NOT NULL,
    locked_until INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- Every authentication result and every mutation. at: Unix milliseconds.
CREATE TABLE audit (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         INTEGER NOT NULL,
    actor      TEXT NOT NULL,
    actor_kind TEXT NOT NULL,
    address    TEXT NOT NULL DEFAULT '',
    action     TEXT NOT NULL,
    object     TEXT NOT NULL DEFAULT '',
    outcome    TEXT NOT NULL,
    detail     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_by_at ON audit(at);
CREATE INDEX audit_by_actor ON audit(actor, id);

-- An upload session belongs to the principal that opened it.
ALTER TABLE uploads ADD COLUMN owner TEXT NOT NULL DEFAULT '';
