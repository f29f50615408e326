-- 008_channel_binding.sql - aliases whose clients send an RFC 7030 3.5
-- channel binding (tls-unique) in the CSR's challengePassword.
--
-- Applied by sql/estca-dbinit inside one transaction; no BEGIN/COMMIT here.
--
-- Neither Apache (mod_ssl) nor lighttpd hands the FastCGI worker the TLS
-- Finished message or an exporter value, so the worker cannot verify a
-- channel binding (doc/enrollment.md, "Proof of possession").  What it can
-- do is never take such a value for an enrollment code: a challengePassword
-- that is the base64 of 12 bytes (tls-unique of TLS 1.2) or 32 bytes
-- (tls-exporter, RFC 9266) is refused with a reason that says so, not
-- checked against the code hash and not counted as a failed attempt,
--   - always where no code is expected in the challengePassword (modes
--     dn_part_password, ra, vendor; simplereenroll; re-key), and
--   - in mode challenge_password only when the alias says its clients send
--     a channel binding (channel_binding below): there the challengePassword
--     is otherwise the code, and a code may look like anything.

ALTER TABLE est.alias ADD COLUMN channel_binding boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN est.alias.channel_binding IS
	'clients send RFC 7030 3.5 tls-unique in challengePassword: refuse such values, never take them for a code';

-- Say whether the clients of alias send a channel binding; returns true
-- if the alias exists.
CREATE FUNCTION est.set_alias_channel_binding(alias text, expected boolean)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
AS $$
BEGIN
	IF expected IS NULL THEN
		RAISE EXCEPTION 'expected is true or false' USING ERRCODE = '22023';
	END IF;
	UPDATE est.alias a SET channel_binding = $2 WHERE a.name = $1;
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	PERFORM est.audit_dba($1, NULL, 'set_alias_channel_binding',
	    format('channel binding expected: %s', $2));
	RETURN true;
END
$$;

DO $pin$
DECLARE
	crypto_schema text;
BEGIN
	SELECT n.nspname INTO STRICT crypto_schema
	  FROM pg_catalog.pg_extension x
	  JOIN pg_catalog.pg_namespace n ON n.oid = x.extnamespace
	 WHERE x.extname = 'pgcrypto';
	EXECUTE format('ALTER FUNCTION est.set_alias_channel_binding(text, boolean) '
	    'SET search_path = pg_catalog, %I, pg_temp', crypto_schema);
END
$pin$;
REVOKE ALL ON FUNCTION est.set_alias_channel_binding(text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION est.set_alias_channel_binding(text, boolean) TO estca_dba;
