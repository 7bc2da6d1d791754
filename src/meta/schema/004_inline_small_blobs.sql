-- Small blobs (configs, tiny layers) keep their bytes here, committed in the same transaction
-- that records them: no blob file, so no file fsync and directory fsync per small blob.
-- NULL: the bytes are in the blob store.
ALTER TABLE blobs ADD COLUMN data BLOB;
