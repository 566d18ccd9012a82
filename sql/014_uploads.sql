-- SPDX-License-Identifier: Apache-2.0
-- 014: users' uploaded pictures (POST /api/uploads, docs/api.md).
--
-- An upload is verified by decoding it before it is stored; this row is
-- written only after the storage backend took the bytes, so every row
-- names a stored picture. A create's sourceImage "upload:<id>" must name
-- an upload of the same user (checked in the create statement itself),
-- and the worker reads the row back to fetch the bytes for the provider.
-- The id is a random (version 4) UUID chosen by the module: it is also
-- the unguessable part of the storage key and of the URL.
CREATE TABLE genflow_uploads (
    id            uuid PRIMARY KEY,
    user_id       text NOT NULL CHECK (length(user_id) BETWEEN 1 AND 255),
    storage       text NOT NULL CHECK (storage IN ('local', 'cloudinary')),
    storage_key   text NOT NULL CHECK (length(storage_key) BETWEEN 1 AND 512),
    url           text NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
    content_type  text NOT NULL CHECK (content_type IN ('image/png', 'image/jpeg', 'image/webp')),
    width         integer NOT NULL CHECK (width > 0),
    height        integer NOT NULL CHECK (height > 0),
    bytes         bigint NOT NULL CHECK (bytes > 0),
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- A user's uploads, newest first (a gallery of sources); the ownership
-- check of a create goes by the primary key.
CREATE INDEX genflow_uploads_user_created ON genflow_uploads (user_id, created_at);
