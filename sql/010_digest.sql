-- 010_digest.sql - HTTP Digest (RFC 7616) for RA members (issue 13 point 4;
-- seed 002: Kura's "HTTP basic authentication digest"; RFC 7030 3.2.3).
--
-- Applied by sql/estca-dbinit inside one transaction; no BEGIN/COMMIT here.
--
-- An alias offers Digest with the algorithms in est.alias.digest_algorithms
-- (default none: Basic only; est.set_alias_digest).  The realm is fixed
-- per alias: 'estca <alias>', as for Basic.  A member's verifier per
-- algorithm is HA1 = H(username ":" realm ":" password) in lower-case hex,
-- kept in est.role_member_digest, computed by the DBA password functions
-- from the clear password (replaced below to do so).  Members whose
-- password was set before this migration have no HA1: set their password
-- again to give them Digest.
--
-- The trade-off against bcrypt: an HA1 is password-equivalent for its
-- realm (whoever reads it can answer any Digest challenge of that realm
-- without knowing the password), and it is a fast hash an attacker can
-- try guesses against at full speed.  So est.role_member_digest is
-- readable by the web role only (the workers must read it to check a
-- response): not by estca_dba, not by PUBLIC.  A compromised worker (or
-- its database login) can read every HA1 and then authenticate by Digest
-- as any member of any alias that offers Digest, until the passwords are
-- changed; it cannot authenticate by Basic with them (bcrypt stays).
-- Aliases that do not offer Digest are not exposed by an HA1, except that
-- an HA1 is only as strong as the password under a fast hash.
--
-- Nonces (fcgi/cred.c): hex of (time, 16 random bytes) and
-- HMAC-SHA256(key, time || random || realm); the key is the one row of
-- est.digest_key, readable by the web role and the DBA.  A nonce is good
-- for 300 s; an older one with a valid MAC is answered 401 with
-- stale=true.  Every accepted (nonce, nc) is recorded in
-- est.digest_nonce_used until the nonce's end (primary key), so a
-- replayed Authorization header is refused by every worker.

ALTER TABLE est.alias
	ADD COLUMN digest_algorithms text[] NOT NULL DEFAULT '{}'
		CHECK (digest_algorithms <@ ARRAY['SHA-256', 'MD5']);

CREATE TABLE est.role_member_digest (
	member    bigint NOT NULL REFERENCES est.role_member (id) ON DELETE CASCADE,
	algorithm text NOT NULL CHECK (algorithm IN ('SHA-256', 'MD5')),
	realm     text NOT NULL,
	ha1       text NOT NULL CHECK (ha1 ~ '^[0-9a-f]+$'),
	PRIMARY KEY (member, algorithm)
);

CREATE TABLE est.digest_key (
	id  integer PRIMARY KEY CHECK (id = 1),
	key bytea NOT NULL CHECK (length(key) >= 32)
);
INSERT INTO est.digest_key (id, key) VALUES (1, gen_random_bytes(32));

CREATE TABLE est.digest_nonce_used (
	nonce      text NOT NULL,
	nc         text NOT NULL,
	expires_at timestamptz NOT NULL,
	PRIMARY KEY (nonce, nc)
);
CREATE INDEX digest_nonce_used_expires_idx ON est.digest_nonce_used (expires_at);

-- Store the HA1s of member mid for every algorithm, realm 'estca <alias>'.
CREATE FUNCTION est.store_member_digest(mid bigint, password text)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
	u text;
	realm text;
BEGIN
	SELECT m.username, 'estca ' || r.alias INTO STRICT u, realm
	  FROM est.role_member m JOIN est.role r ON r.id = m.role WHERE m.id = mid;
	DELETE FROM est.role_member_digest d WHERE d.member = mid;
	INSERT INTO est.role_member_digest (member, algorithm, realm, ha1)
	VALUES (mid, 'SHA-256', realm,
	        encode(digest(convert_to(u || ':' || realm || ':' || password, 'UTF8'), 'sha256'), 'hex')),
	       (mid, 'MD5', realm,
	        encode(digest(convert_to(u || ':' || realm || ':' || password, 'UTF8'), 'md5'), 'hex'));
END
$$;

CREATE OR REPLACE FUNCTION est.add_role_member_password(role text, username text, password text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
AS $$
DECLARE
	rid bigint := est.role_id($1);
	mid bigint;
BEGIN
	IF username IS NULL OR position(':' in username) > 0 OR username ~ '[[:cntrl:]]' THEN
		RAISE EXCEPTION 'an RA username has no colon and no control characters'
			USING ERRCODE = '22023';
	END IF;
	INSERT INTO est.role_member (role, username, password_hash)
	VALUES (rid, $2, est.hash_role_password($3))
	RETURNING id INTO mid;
	PERFORM est.store_member_digest(mid, $3);
	PERFORM est.audit_dba(r.alias, NULL, 'add_role_member_password',
	    format('RA role %s: member %s (password, Digest verifiers)', $1, $2))
	   FROM est.role r WHERE r.id = rid;
	RETURN mid;
END
$$;

CREATE OR REPLACE FUNCTION est.set_role_member_password(role text, username text, password text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
AS $$
DECLARE
	rid bigint := est.role_id($1);
	mid bigint;
BEGIN
	UPDATE est.role_member m SET password_hash = est.hash_role_password($3)
	 WHERE m.role = rid AND m.username = $2
	RETURNING m.id INTO mid;
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	PERFORM est.store_member_digest(mid, $3);
	PERFORM est.audit_dba(r.alias, NULL, 'set_role_member_password',
	    format('RA role %s: new password (and Digest verifiers) for %s', $1, $2))
	   FROM est.role r WHERE r.id = rid;
	RETURN true;
END
$$;

-- Which Digest algorithms alias offers ('{SHA-256,MD5}', in the order of
-- the challenges; '{}': none, Basic only).  Returns false when there is
-- no such alias.
CREATE FUNCTION est.set_alias_digest(alias text, algorithms text[])
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
AS $$
BEGIN
	IF algorithms IS NULL OR NOT (algorithms <@ ARRAY['SHA-256', 'MD5']) THEN
		RAISE EXCEPTION 'Digest algorithms are SHA-256 and MD5' USING ERRCODE = '22023';
	END IF;
	UPDATE est.alias a SET digest_algorithms = $2 WHERE a.name = $1;
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	PERFORM est.audit_dba($1, NULL, 'set_alias_digest',
	    format('Digest algorithms offered: %s', $2));
	RETURN true;
END
$$;

SELECT est.pin_functions(ARRAY[
	    'est.store_member_digest(bigint, text)',
	    'est.add_role_member_password(text, text, text)',
	    'est.set_role_member_password(text, text, text)',
	    'est.set_alias_digest(text, text[])']);

GRANT EXECUTE ON FUNCTION est.set_alias_digest(text, text[]) TO estca_dba;
-- (add_ and set_role_member_password keep their grants to estca_dba.)

-- HA1s: the workers only (password-equivalent; see above).
GRANT SELECT ON est.role_member_digest TO estca_web;
GRANT SELECT ON est.digest_key TO estca_web, estca_dba;
-- Used nonces: the workers record them and drop expired ones.
GRANT SELECT, INSERT, DELETE ON est.digest_nonce_used TO estca_web;
