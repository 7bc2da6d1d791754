-- The bytes of small blobs move out of `blobs` into a table of their own. `blobs` is a
-- WITHOUT ROWID table on SQLite: its rows live in the b-tree keyed by digest, and a row
-- whose 16 KiB of bytes spill onto overflow pages makes every key comparison of a lookup
-- read the whole row (SQLite assembles an overflowing index cell before comparing it), so
-- each lookup by digest read ~100 KiB and grew slower as the table grew (issue 8, item 14).
-- Here the bytes sit in a rowid table: the digest index holds only keys, and a read
-- follows one overflow chain once. Deleting a `blobs` row deletes its bytes.
CREATE TABLE blob_data (
    digest TEXT PRIMARY KEY REFERENCES blobs(digest) ON DELETE CASCADE,
    data   BLOB NOT NULL
);
INSERT INTO blob_data(digest, data) SELECT digest, data FROM blobs WHERE data IS NOT NULL;
ALTER TABLE blobs DROP COLUMN data;
