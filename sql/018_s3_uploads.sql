-- SPDX-License-Identifier: Apache-2.0
-- 018: uploads may live in an S3-compatible bucket (GenFlowS3).
--
-- A row names the backend that holds its bytes, so that a worker reads the
-- upload back from the same place on whichever node it runs.

ALTER TABLE genflow_uploads DROP CONSTRAINT genflow_uploads_storage_check;
ALTER TABLE genflow_uploads ADD CONSTRAINT genflow_uploads_storage_check
    CHECK (storage IN ('local', 'cloudinary', 's3'));
