-- SPDX-License-Identifier: Apache-2.0
-- 019: uploads are kept while they are used (GenFlowUploadRetention).
--
-- last_used_at is when the upload was made or last named as a create's
-- sourceImage (the create statement sets it); the engine's sweep deletes
-- uploads unused for longer than the retention, row and object. Uploads
-- that exist when this runs count as used now: none goes before a whole
-- retention has passed.

ALTER TABLE genflow_uploads ADD COLUMN last_used_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX genflow_uploads_last_used ON genflow_uploads (last_used_at);
