-- 009_ra_register.sql - RA members register the end entities they enroll
-- (issue 13 point 2; seed 001: estclient -e -u estadmin -h foo123
-- --common-name myclient, where the EJBCA RA creates the end entity).
--
-- Applied by sql/estca-dbinit inside one transaction; no BEGIN/COMMIT here.
--
-- Off by default.  A DBA switches it on per alias (mode 'ra' only) with
-- est.set_alias_ra_register and gives each RA role a quota with
-- est.set_role_register_quota (0, the default, lets the role register
-- nothing).  When an authenticated RA member asks for a name no end
-- entity of the alias has, the worker calls est.ra_register_end_entity,
-- which registers it inside the worker's transaction (so an enrollment
-- that then fails registers nothing) within the alias's limits:
--   - the subject, as RFC 4514 text, is exactly
--       <username_dn_field>=<name><ra_register_subject_suffix>
--     (suffix '' by default: CN=<name> alone; ',O=Example' for
--     CN=<name>,O=Example), or, when the alias has a
--     ra_register_subject_pattern, begins with <username_dn_field>=<name>
--     (then the end, ',' or nothing else) and matches that POSIX regular
--     expression;
--   - the name is 1 to 64 letters, digits, '.', '_', '@' or '-', starting
--     with a letter or digit (nothing to escape in RFC 4514);
--   - each SAN is of a type in ra_register_san_types (default none), and a
--     DNS name ends in one of ra_register_dns_suffixes when there are any;
--   - the member's role has registered fewer end entities (still
--     registered) than its register_quota; the role row is locked while it
--     counts, so concurrent registrations cannot overshoot;
--   - the end entity gets ra_register_uses enrollments (default 1), no
--     code, status active, and remembers the role and member.
-- A refusal raises SQLSTATE 42501 with a one-line message the worker may
-- show the client.  Each registration writes an est.audit row of
-- operation 'ra_register' naming the role and the member.
--
-- The function is SECURITY DEFINER (it inserts into est.end_entity, which
-- the web role may not), pins its search_path, and is the only way the
-- web role can create an end entity: a compromised worker can register
-- names only on aliases that have the option, within these limits and
-- quotas, in the name of some member of a role of that alias (it cannot
-- prove which member authenticated: that check is the worker's).

ALTER TABLE est.alias
	ADD COLUMN ra_register boolean NOT NULL DEFAULT false,
	ADD COLUMN ra_register_subject_suffix text NOT NULL DEFAULT ''
		CHECK (ra_register_subject_suffix = '' OR
		       (ra_register_subject_suffix ~ '^,' AND
		        ra_register_subject_suffix !~ '[[:cntrl:]]' AND
		        length(ra_register_subject_suffix) <= 512)),
	ADD COLUMN ra_register_subject_pattern text
		CHECK (length(ra_register_subject_pattern) BETWEEN 1 AND 512),
	ADD COLUMN ra_register_san_types text[] NOT NULL DEFAULT '{}'
		CHECK (ra_register_san_types <@ ARRAY['DNS', 'IP', 'email', 'URI']),
	ADD COLUMN ra_register_dns_suffixes text[] NOT NULL DEFAULT '{}',
	ADD COLUMN ra_register_uses integer NOT NULL DEFAULT 1
		CHECK (ra_register_uses BETWEEN 1 AND 1000),
	ADD CONSTRAINT alias_ra_register_mode CHECK (NOT ra_register OR enroll_mode = 'ra');

ALTER TABLE est.role
	ADD COLUMN register_quota integer NOT NULL DEFAULT 0 CHECK (register_quota >= 0);

-- Who registered an end entity, when an RA did (NULL: a DBA).
ALTER TABLE est.end_entity
	ADD COLUMN registered_role bigint REFERENCES est.role (id) ON DELETE SET NULL,
	ADD COLUMN registered_by bigint REFERENCES est.role_member (id) ON DELETE SET NULL;
CREATE INDEX end_entity_registered_role_idx ON est.end_entity (registered_role);

-- Register end entity username under alias for RA role member member_id
-- (the worker authenticated that member), with subject_dn (RFC 4514, as
-- the worker prints the request subject) and sans ('DNS:x', 'IP:a',
-- 'email:a', 'URI:u').  requester goes to the audit row (the client's
-- address and the RA, as in est.audit).  Returns the new id, or NULL when
-- the name was registered meanwhile (by a concurrent request: the caller
-- looks it up again).  Raises 42501 when the alias, role or limits do not
-- allow it.
CREATE FUNCTION est.ra_register_end_entity(alias text, member_id bigint,
	username text, subject_dn text, sans text[], requester text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
AS $$
DECLARE
	a est.alias%ROWTYPE;
	rid bigint;
	rname text;
	quota integer;
	member_name text;
	n integer;
	prefix text;
	san text;
	m text[];
	sfx text;
	fits boolean;
	new_id bigint;
BEGIN
	SELECT * INTO a FROM est.alias x WHERE x.name = $1;
	IF NOT FOUND OR a.enroll_mode <> 'ra' OR NOT a.ra_register THEN
		RAISE EXCEPTION 'this alias does not let RAs register end entities'
			USING ERRCODE = '42501';
	END IF;
	SELECT r.id, r.name, r.register_quota, mm.username
	  INTO rid, rname, quota, member_name
	  FROM est.role r JOIN est.role_member mm ON mm.role = r.id
	 WHERE mm.id = $2 AND r.alias = $1
	   FOR UPDATE OF r;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'not a member of an RA role of this alias'
			USING ERRCODE = '42501';
	END IF;
	IF quota <= 0 THEN
		RAISE EXCEPTION 'this RA role may not register end entities'
			USING ERRCODE = '42501';
	END IF;
	SELECT count(*) INTO n FROM est.end_entity e WHERE e.registered_role = rid;
	IF n >= quota THEN
		RAISE EXCEPTION 'this RA role has registered its quota of end entities'
			USING ERRCODE = '42501', DETAIL = format('%s of %s', n, quota);
	END IF;
	IF $3 IS NULL OR $3 !~ '^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$' THEN
		RAISE EXCEPTION 'an RA registers names of 1 to 64 letters, digits, '
			'''.'', ''_'', ''@'' or ''-'''
			USING ERRCODE = '42501';
	END IF;
	prefix := a.username_dn_field || '=' || $3;
	IF a.ra_register_subject_pattern IS NULL THEN
		IF $4 IS DISTINCT FROM prefix || a.ra_register_subject_suffix THEN
			RAISE EXCEPTION 'the subject must be %=<name>%', a.username_dn_field,
				a.ra_register_subject_suffix USING ERRCODE = '42501';
		END IF;
	ELSIF $4 IS NULL OR ($4 <> prefix AND left($4, length(prefix) + 1) <> prefix || ',')
	    OR $4 !~ a.ra_register_subject_pattern THEN
		RAISE EXCEPTION 'the subject is outside what RAs may register under this alias'
			USING ERRCODE = '42501';
	END IF;
	IF cardinality(coalesce($5, '{}'::text[])) > 64 THEN
		RAISE EXCEPTION 'too many subjectAltNames' USING ERRCODE = '42501';
	END IF;
	FOREACH san IN ARRAY coalesce($5, '{}'::text[]) LOOP
		m := regexp_match(san, '^(DNS|IP|email|URI):(.+)$');
		IF m IS NULL OR NOT (m[1] = ANY (a.ra_register_san_types)) THEN
			RAISE EXCEPTION 'subjectAltName type % is not one RAs may register here',
				coalesce(m[1], 'unknown') USING ERRCODE = '42501';
		END IF;
		IF m[1] = 'DNS' AND cardinality(a.ra_register_dns_suffixes) > 0 THEN
			fits := false;
			FOREACH sfx IN ARRAY a.ra_register_dns_suffixes LOOP
				sfx := lower(ltrim(sfx, '.'));
				IF lower(m[2]) = sfx OR right(lower(m[2]), length(sfx) + 1) = '.' || sfx THEN
					fits := true;
				END IF;
			END LOOP;
			IF NOT fits THEN
				RAISE EXCEPTION 'DNS name outside the domains RAs may register here'
					USING ERRCODE = '42501';
			END IF;
		END IF;
	END LOOP;
	INSERT INTO est.end_entity (alias, username, subject_dn, sans, code_hash,
	    uses_left, registered_role, registered_by)
	VALUES ($1, $3, $4, coalesce($5, '{}'::text[]), NULL, a.ra_register_uses,
	    rid, $2)
	ON CONFLICT ON CONSTRAINT end_entity_alias_username_key DO NOTHING
	RETURNING id INTO new_id;
	IF new_id IS NULL THEN
		RETURN NULL;
	END IF;
	INSERT INTO est.audit (alias, username, operation, decision, reason,
	    requester)
	VALUES ($1, $3, 'ra_register', 'accept',
	    format('end entity %s registered by RA role %s member %s%s, %s use(s), '
	        '%s of %s of the role''s quota', new_id, rname, $2,
	        coalesce(' (' || member_name || ')', ''), a.ra_register_uses,
	        n + 1, quota),
	    coalesce($6, session_user::text));
	RETURN new_id;
END
$$;

-- Let RA members of alias register end entities (enabled), within these
-- limits; NULL arguments leave a limit as it is (clear_subject_pattern =>
-- true removes the pattern, so the suffix rule applies again).  Returns
-- false when there is no such alias.
CREATE FUNCTION est.set_alias_ra_register(alias text, enabled boolean,
	subject_suffix text DEFAULT NULL, subject_pattern text DEFAULT NULL,
	san_types text[] DEFAULT NULL, dns_suffixes text[] DEFAULT NULL,
	uses integer DEFAULT NULL, clear_subject_pattern boolean DEFAULT false)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
AS $$
DECLARE
	mode text;
	sfx text;
BEGIN
	IF enabled IS NULL THEN
		RAISE EXCEPTION 'enabled is true or false' USING ERRCODE = '22023';
	END IF;
	SELECT a.enroll_mode INTO mode FROM est.alias a WHERE a.name = $1 FOR UPDATE;
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	IF enabled AND mode <> 'ra' THEN
		RAISE EXCEPTION 'alias % is of mode %: RA registration needs mode ra', $1, mode
			USING ERRCODE = '22023';
	END IF;
	IF subject_pattern IS NOT NULL THEN
		BEGIN
			PERFORM '' ~ subject_pattern;
		EXCEPTION WHEN invalid_regular_expression THEN
			RAISE EXCEPTION 'subject_pattern is not a valid regular expression'
				USING ERRCODE = '22023';
		END;
	END IF;
	FOREACH sfx IN ARRAY coalesce(dns_suffixes, '{}'::text[]) LOOP
		IF sfx IS NULL OR ltrim(sfx, '.') !~ '^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$' THEN
			RAISE EXCEPTION 'DNS suffix % is not a domain name', coalesce(quote_literal(sfx), 'NULL')
				USING ERRCODE = '22023';
		END IF;
	END LOOP;
	UPDATE est.alias a
	   SET ra_register = $2,
	       ra_register_subject_suffix = coalesce($3, a.ra_register_subject_suffix),
	       ra_register_subject_pattern = CASE WHEN $8 THEN NULL
	           ELSE coalesce($4, a.ra_register_subject_pattern) END,
	       ra_register_san_types = coalesce($5, a.ra_register_san_types),
	       ra_register_dns_suffixes = coalesce($6, a.ra_register_dns_suffixes),
	       ra_register_uses = coalesce($7, a.ra_register_uses)
	 WHERE a.name = $1;
	PERFORM est.audit_dba($1, NULL, 'set_alias_ra_register',
	    format('RA registration %s (subject %s=<name>%s%s, SAN types %s, DNS suffixes %s, %s use(s))',
	        CASE WHEN $2 THEN 'on' ELSE 'off' END, a.username_dn_field,
	        a.ra_register_subject_suffix,
	        coalesce(', pattern ' || a.ra_register_subject_pattern, ''),
	        a.ra_register_san_types, a.ra_register_dns_suffixes, a.ra_register_uses))
	   FROM est.alias a WHERE a.name = $1;
	RETURN true;
END
$$;

-- How many end entities the members of role may register (still
-- registered ones count; 0: none).  Returns false when there is no such
-- role.
CREATE FUNCTION est.set_role_register_quota(role text, quota integer)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
AS $$
DECLARE
	a text;
BEGIN
	IF quota IS NULL OR quota < 0 THEN
		RAISE EXCEPTION 'quota must be 0 or more' USING ERRCODE = '22023';
	END IF;
	UPDATE est.role r SET register_quota = $2 WHERE r.name = $1
	RETURNING r.alias INTO a;
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	PERFORM est.audit_dba(a, NULL, 'set_role_register_quota',
	    format('RA role %s may register %s end entities', $1, $2));
	RETURN true;
END
$$;

SELECT est.pin_functions(ARRAY[
	    'est.ra_register_end_entity(text, bigint, text, text, text[], text)',
	    'est.set_alias_ra_register(text, boolean, text, text, text[], text[], integer, boolean)',
	    'est.set_role_register_quota(text, integer)']);

GRANT EXECUTE ON FUNCTION
	est.set_alias_ra_register(text, boolean, text, text, text[], text[], integer, boolean),
	est.set_role_register_quota(text, integer)
	TO estca_dba;
-- The one function the web role may call besides est.web_restricted():
-- it checks the alias's option, limits and the role's quota itself.
GRANT EXECUTE ON FUNCTION
	est.ra_register_end_entity(text, bigint, text, text, text[], text)
	TO estca_web;
