-- 007_request_auth.sql - queued requests remember how they authenticated;
-- enrollment codes fit bcrypt.
--
-- Applied by sql/estca-dbinit inside one transaction; no BEGIN/COMMIT here.
--
-- 1. est.approval_request.auth says how the queued request authenticated:
--      code               an enrollment code (challengePassword or DN part)
--      ra-password:ID     HTTP Basic as RA role member ID
--      ra-cert:SHA256     an RA member's TLS client certificate
--      vendor-cert:SHA256 a vendor device certificate
--      cert:SHA256        a certificate of this CA (renewal, re-key)
--    A retry is the same request only if it authenticates the same way
--    again (the worker checks the credential again on every retry, and
--    looks the row up by alias, operation, CSR hash and auth).  Before
--    this, a re-key queued with a client certificate could be fetched by
--    the initial-enrollment path with no credential at all.  Rows queued
--    before this migration authenticated in an unknown way: they get
--    'unknown', which no request matches, so their clients must submit
--    again.
--
-- 2. bcrypt reads only the first 72 bytes of a secret, the terminating NUL
--    included: a secret of 71 bytes is told apart from every other, but
--    one of 72 bytes or more matches any guess that shares its first 72.
--    Enrollment codes are therefore 4 characters to 71 bytes and RA
--    passwords 8 characters to 71 bytes.  The workers refuse a candidate
--    of 72 bytes or more against any bcrypt hash, so a code or password of
--    72 bytes or more set before this migration no longer authenticates:
--    set a new one (est.set_enrollment_code, est.set_role_member_password).

ALTER TABLE est.approval_request ADD COLUMN auth text NOT NULL DEFAULT 'unknown';
ALTER TABLE est.approval_request ALTER COLUMN auth DROP DEFAULT;
ALTER TABLE est.approval_request
	ADD CONSTRAINT approval_request_auth_check CHECK (auth ~ '^(unknown|code|(ra-password|ra-cert|vendor-cert|cert):[0-9a-f]+)$');
ALTER TABLE est.approval_request
	DROP CONSTRAINT approval_request_alias_operation_csr_sha256_key;
ALTER TABLE est.approval_request
	ADD CONSTRAINT approval_request_request_key UNIQUE (alias, operation, csr_sha256, auth);

CREATE OR REPLACE VIEW est.pending_requests AS
SELECT r.id, r.alias, r.username, r.operation, r.subject, r.sans, r.requester,
       r.submitted_at, r.expires_at, encode(r.csr_sha256, 'hex') AS csr_sha256,
       '-----BEGIN PUBLIC KEY-----' || chr(10) ||
       encode(r.spki_der, 'base64') || chr(10) ||
       '-----END PUBLIC KEY-----' || chr(10) AS public_key,
       '-----BEGIN CERTIFICATE REQUEST-----' || chr(10) ||
       encode(r.csr_der, 'base64') || chr(10) ||
       '-----END CERTIFICATE REQUEST-----' || chr(10) AS csr,
       r.auth
  FROM est.approval_request r
 WHERE r.status = 'pending' AND r.expires_at > now()
 ORDER BY r.submitted_at, r.id;

-- Refuse a secret bcrypt cannot hash whole, or one too short or with
-- control characters; what names it in the message ("an enrollment code").
CREATE FUNCTION est.check_bcrypt_secret(secret text, what text, min_chars integer)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
	IF secret IS NULL OR length(secret) < min_chars OR octet_length(secret) > 71 THEN
		RAISE EXCEPTION '% has % characters to 71 bytes', what, min_chars
			USING ERRCODE = '22023';
	END IF;
	IF secret ~ '[[:cntrl:]]' THEN
		RAISE EXCEPTION '% has no control characters', what USING ERRCODE = '22023';
	END IF;
END
$$;

CREATE OR REPLACE FUNCTION est.hash_enrollment_code(code text) RETURNS text
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
	IF code IS NULL THEN
		RETURN NULL;
	END IF;
	PERFORM est.check_bcrypt_secret(code, 'an enrollment code', 4);
	RETURN crypt(code, gen_salt('bf', 8));
END
$$;

CREATE OR REPLACE FUNCTION est.hash_role_password(password text) RETURNS text
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
	PERFORM est.check_bcrypt_secret(password, 'an RA password', 8);
	RETURN crypt(password, gen_salt('bf', 8));
END
$$;

-- Pin a function's search_path to pg_catalog and pgcrypto's schema
-- (wherever CREATE EXTENSION put it) and take it from PUBLIC: what every
-- migration does to the functions it creates or replaces (CREATE OR
-- REPLACE resets the settings).  Only the migrations call it.
CREATE FUNCTION est.pin_functions(signatures text[]) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	crypto_schema text;
	f text;
BEGIN
	SELECT n.nspname INTO STRICT crypto_schema
	  FROM pg_catalog.pg_extension x
	  JOIN pg_catalog.pg_namespace n ON n.oid = x.extnamespace
	 WHERE x.extname = 'pgcrypto';
	FOREACH f IN ARRAY signatures LOOP
		EXECUTE format('ALTER FUNCTION %s SET search_path = pg_catalog, %I, pg_temp',
		    f, crypto_schema);
		EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
	END LOOP;
END
$$;
REVOKE ALL ON FUNCTION est.pin_functions(text[]) FROM PUBLIC;

SELECT est.pin_functions(ARRAY[
	    'est.check_bcrypt_secret(text, text, integer)',
	    'est.hash_enrollment_code(text)',
	    'est.hash_role_password(text)']);

-- The web tier writes the new column when it queues a request (006 made
-- its INSERT privilege column by column).
GRANT INSERT (auth) ON est.approval_request TO estca_web;
