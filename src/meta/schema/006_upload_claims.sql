-- One writer per upload across every node sharing this database: a PATCH or the completing PUT
-- claims the upload row for a short lease before it touches the upload's bytes, renews the
-- lease while it writes, and gives it back when done. A claim whose lease has run out (its
-- node died) may be taken by anyone. claim_holder is a random id per claim ('' when free);
-- claim_until is Unix seconds (0 when free).
ALTER TABLE uploads ADD COLUMN claim_holder TEXT NOT NULL DEFAULT '';
ALTER TABLE uploads ADD COLUMN claim_until INTEGER NOT NULL DEFAULT 0;
