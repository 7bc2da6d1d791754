-- What an upload in progress has in the blob store, for stores that cannot work it out from
-- the bytes themselves (S3: multipart upload id, parts and ETags), and the running SHA-256
-- of its bytes, so that any node can continue or complete the upload. '' when not needed
-- (the filesystem store keeps everything in the upload file).
ALTER TABLE uploads ADD COLUMN storage_state TEXT NOT NULL DEFAULT '';
ALTER TABLE uploads ADD COLUMN hash_state TEXT NOT NULL DEFAULT '';
