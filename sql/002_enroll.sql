-- 002_enroll.sql - the DBA's functions for end entities and certificates.
--
-- Applied by sql/estca-dbinit inside one transaction; no BEGIN/COMMIT here.
-- A DBA (a member of estca_dba) registers end entities, sets their
-- enrollment codes, unlocks, deletes them and revokes certificates with
-- these functions instead of raw SQL, so that codes are always stored
-- hashed and every change leaves a row in est.audit.  See doc/dba.md.
--
-- The functions are SECURITY DEFINER because they write est.audit, which
-- the DBA may only read.  Each pins its search_path to pg_catalog and the
-- schema pgcrypto lives in (set at the end of this file), and names every
-- table with its schema.
--
-- Codes pass through these functions in clear text (the DBA types them, or
-- est.new_enrollment_code() makes them); the server hashes them at once.
-- A server with log_statement = 'all' would keep the statement text: turn
-- statement logging off for DBA sessions (doc/dba.md).  The web tier never
-- sends a code to the server: it fetches the hash and checks it itself.

-- A fresh enrollment code: 128 random bits as 32 lower-case hex digits.
CREATE FUNCTION est.new_enrollment_code() RETURNS text
LANGUAGE sql VOLATILE
AS $$
	SELECT encode(gen_random_bytes(16), 'hex');
$$;

-- crypt(3) hash of an enrollment code: bcrypt, cost 8 (pgcrypto's $2a$,
-- which the workers' libxcrypt verifies).  NULL stays NULL (no code).
CREATE FUNCTION est.hash_enrollment_code(code text) RETURNS text
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
	IF code IS NULL THEN
		RETURN NULL;
	END IF;
	IF length(code) < 4 OR length(code) > 255 THEN
		RAISE EXCEPTION 'an enrollment code has 4 to 255 characters'
			USING ERRCODE = '22023';
	END IF;
	IF code ~ '[[:cntrl:]]' THEN
		RAISE EXCEPTION 'an enrollment code has no control characters'
			USING ERRCODE = '22023';
	END IF;
	RETURN crypt(code, gen_salt('bf', 8));
END
$$;

-- One row of est.audit for a DBA action (requester: the session user).
CREATE FUNCTION est.audit_dba(alias text, username text, operation text,
	reason text, serial text DEFAULT NULL) RETURNS void
LANGUAGE sql VOLATILE
AS $$
	INSERT INTO est.audit (alias, username, operation, decision, reason,
	    requester, serial)
	VALUES ($1, $2, 'dba:' || $3, 'accept', $4, session_user::text, $5);
$$;

-- Register an end entity that may enroll under alias; returns its id.
--   subject_dn  the subject its certificates must have (RFC 4514, e.g.
--               'CN=device1,O=Example,C=SE'); NULL: any subject whose
--               username field names it
--   sans        subjectAltNames it may ask for: 'DNS:x', 'IP:192.0.2.1',
--               'email:a@b', 'URI:urn:x'
--   code        enrollment code (stored hashed); NULL: no code
--   uses        how many enrollments the code allows
CREATE FUNCTION est.register_end_entity(alias text, username text,
	subject_dn text, sans text[], code text, uses integer DEFAULT 1)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
AS $$
DECLARE
	new_id bigint;
	san text;
BEGIN
	IF uses IS NULL OR uses < 0 THEN
		RAISE EXCEPTION 'uses must be 0 or more' USING ERRCODE = '22023';
	END IF;
	FOREACH san IN ARRAY coalesce(sans, '{}'::text[]) LOOP
		IF san IS NULL OR san !~* '^(DNS|IP|email|URI):.+$' THEN
			RAISE EXCEPTION 'SAN % is not DNS:, IP:, email: or URI: followed by a value',
				coalesce(quote_literal(san), 'NULL') USING ERRCODE = '22023';
		END IF;
	END LOOP;
	INSERT INTO est.end_entity (alias, username, subject_dn, sans, code_hash,
	    uses_left)
	VALUES ($1, $2, $3, coalesce($4, '{}'::text[]),
	    est.hash_enrollment_code($5), $6)
	RETURNING id INTO new_id;
	PERFORM est.audit_dba($1, $2, 'register_end_entity',
	    format('registered end entity %s, %s use(s)', new_id, uses));
	RETURN new_id;
END
$$;

-- Change what an end entity may ask for; NULL arguments leave a field as it
-- is (use clear_subject_dn => true to allow any subject again).  Returns
-- true if the end entity exists.
CREATE FUNCTION est.update_end_entity(alias text, username text,
	subject_dn text DEFAULT NULL, sans text[] DEFAULT NULL,
	status text DEFAULT NULL, clear_subject_dn boolean DEFAULT false)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
AS $$
DECLARE
	san text;
BEGIN
	FOREACH san IN ARRAY coalesce(sans, '{}'::text[]) LOOP
		IF san IS NULL OR san !~* '^(DNS|IP|email|URI):.+$' THEN
			RAISE EXCEPTION 'SAN % is not DNS:, IP:, email: or URI: followed by a value',
				coalesce(quote_literal(san), 'NULL') USING ERRCODE = '22023';
		END IF;
	END LOOP;
	UPDATE est.end_entity e
	   SET subject_dn = CASE WHEN $6 THEN NULL ELSE coalesce($3, e.subject_dn) END,
	       sans = coalesce($4, e.sans),
	       status = coalesce($5, e.status),
	       failed_attempts = CASE WHEN $5 = 'active' THEN 0 ELSE e.failed_attempts END
	 WHERE e.alias = $1 AND e.username = $2;
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	PERFORM est.audit_dba($1, $2, 'update_end_entity', 'end entity updated');
	RETURN true;
END
$$;

-- Give an end entity a new enrollment code good for uses enrollments; the
-- failure counter is cleared.  Returns true if the end entity exists.
CREATE FUNCTION est.set_enrollment_code(alias text, username text, code text,
	uses integer DEFAULT 1)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
AS $$
BEGIN
	IF uses IS NULL OR uses < 0 THEN
		RAISE EXCEPTION 'uses must be 0 or more' USING ERRCODE = '22023';
	END IF;
	UPDATE est.end_entity e
	   SET code_hash = est.hash_enrollment_code($3), uses_left = $4,
	       failed_attempts = 0
	 WHERE e.alias = $1 AND e.username = $2;
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	PERFORM est.audit_dba($1, $2, 'set_enrollment_code',
	    format('new enrollment code, %s use(s)', uses));
	RETURN true;
END
$$;

-- Unlock an end entity locked by failed code attempts (status back to
-- active, counter cleared).  Returns true if the end entity exists.
CREATE FUNCTION est.unlock_end_entity(alias text, username text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
AS $$
BEGIN
	UPDATE est.end_entity e SET status = 'active', failed_attempts = 0
	 WHERE e.alias = $1 AND e.username = $2;
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	PERFORM est.audit_dba($1, $2, 'unlock_end_entity', 'unlocked');
	RETURN true;
END
$$;

-- Delete an end entity.  Its certificates stay in est.certificate (they
-- were issued) but lose the link to it, so they can no longer renew.
-- Returns true if the end entity existed.
CREATE FUNCTION est.delete_end_entity(alias text, username text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
AS $$
DECLARE
	old_id bigint;
BEGIN
	SELECT e.id INTO old_id FROM est.end_entity e
	 WHERE e.alias = $1 AND e.username = $2 FOR UPDATE;
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	UPDATE est.certificate c SET end_entity = NULL WHERE c.end_entity = old_id;
	DELETE FROM est.end_entity e WHERE e.id = old_id;
	PERFORM est.audit_dba($1, $2, 'delete_end_entity',
	    format('deleted end entity %s', old_id));
	RETURN true;
END
$$;

-- Revoke a certificate by issuer (RFC 4514 as stored in est.certificate;
-- NULL: any issuer, the serial must then be unique) and serial (hex, any
-- case, colons and leading zeros allowed).  Returns the number of
-- certificates newly revoked (0 when it was already revoked); raises an
-- error when none matches.  reason: an RFC 5280 reason name.
CREATE FUNCTION est.revoke_certificate(issuer text, serial_hex text,
	reason text DEFAULT 'unspecified')
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
AS $$
DECLARE
	s text := ltrim(upper(replace(coalesce($2, ''), ':', '')), '0');
	matches integer;
	n integer;
BEGIN
	IF s = '' AND coalesce($2, '') ~ '^[0:]+$' THEN
		s := '0';
	END IF;
	IF s !~ '^(0|[1-9A-F][0-9A-F]{0,39})$' THEN
		RAISE EXCEPTION 'serial % is not a hexadecimal number', quote_literal($2)
			USING ERRCODE = '22023';
	END IF;
	SELECT count(*) INTO matches FROM est.certificate c
	 WHERE c.serial = s AND ($1 IS NULL OR c.issuer = $1);
	IF matches = 0 THEN
		RAISE EXCEPTION 'no certificate with serial % from issuer %', s,
			coalesce(quote_literal($1), 'any') USING ERRCODE = 'P0002';
	END IF;
	IF matches > 1 THEN
		RAISE EXCEPTION 'serial % is used by % issuers: name the issuer', s, matches
			USING ERRCODE = '21000';
	END IF;
	UPDATE est.certificate c
	   SET revoked_at = now(), revocation_reason = coalesce($3, 'unspecified')
	 WHERE c.serial = s AND ($1 IS NULL OR c.issuer = $1)
	   AND c.revoked_at IS NULL;
	GET DIAGNOSTICS n = ROW_COUNT;
	PERFORM est.audit_dba(c.alias, e.username, 'revoke_certificate',
	    format('revoked (%s)', coalesce($3, 'unspecified')), s)
	   FROM est.certificate c LEFT JOIN est.end_entity e ON e.id = c.end_entity
	  WHERE c.serial = s AND ($1 IS NULL OR c.issuer = $1);
	RETURN n;
END
$$;

-- Revoke every unrevoked certificate of an end entity; returns how many.
CREATE FUNCTION est.revoke_end_entity_certificates(alias text, username text,
	reason text DEFAULT 'unspecified')
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
AS $$
DECLARE
	n integer;
BEGIN
	UPDATE est.certificate c
	   SET revoked_at = now(), revocation_reason = coalesce($3, 'unspecified')
	  FROM est.end_entity e
	 WHERE e.alias = $1 AND e.username = $2 AND c.end_entity = e.id
	   AND c.revoked_at IS NULL;
	GET DIAGNOSTICS n = ROW_COUNT;
	PERFORM est.audit_dba($1, $2, 'revoke_end_entity_certificates',
	    format('revoked %s certificate(s) (%s)', n, coalesce($3, 'unspecified')));
	RETURN n;
END
$$;

-- Pin every function's search_path to pg_catalog and pgcrypto's schema
-- (wherever CREATE EXTENSION put it), and set who may call what.
DO $pin$
DECLARE
	crypto_schema text;
	f text;
BEGIN
	SELECT n.nspname INTO STRICT crypto_schema
	  FROM pg_catalog.pg_extension x
	  JOIN pg_catalog.pg_namespace n ON n.oid = x.extnamespace
	 WHERE x.extname = 'pgcrypto';
	FOREACH f IN ARRAY ARRAY[
	    'est.new_enrollment_code()',
	    'est.hash_enrollment_code(text)',
	    'est.audit_dba(text, text, text, text, text)',
	    'est.register_end_entity(text, text, text, text[], text, integer)',
	    'est.update_end_entity(text, text, text, text[], text, boolean)',
	    'est.set_enrollment_code(text, text, text, integer)',
	    'est.unlock_end_entity(text, text)',
	    'est.delete_end_entity(text, text)',
	    'est.revoke_certificate(text, text, text)',
	    'est.revoke_end_entity_certificates(text, text, text)'] LOOP
		EXECUTE format('ALTER FUNCTION %s SET search_path = pg_catalog, %I, pg_temp',
		    f, crypto_schema);
		EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
	END LOOP;
END
$pin$;

GRANT EXECUTE ON FUNCTION
	est.new_enrollment_code(),
	est.register_end_entity(text, text, text, text[], text, integer),
	est.update_end_entity(text, text, text, text[], text, boolean),
	est.set_enrollment_code(text, text, text, integer),
	est.unlock_end_entity(text, text),
	est.delete_end_entity(text, text),
	est.revoke_certificate(text, text, text),
	est.revoke_end_entity_certificates(text, text, text)
	TO estca_dba;
