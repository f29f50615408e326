-- 004_csrattrs.sql - the DBA's functions for an alias's CSR attributes
-- (what GET /.well-known/est/<alias>/csrattrs answers, RFC 7030 4.5).
--
-- Applied by sql/estca-dbinit inside one transaction.  est.csrattr (001)
-- keeps one row per AttrOrOID, in position order:
--   oid only        the client should include this attribute or
--                   extension (e.g. challengePassword 1.2.840.113549.1.9.7,
--                   macAddress 1.3.6.1.1.1.1.22)
--   oid + values    an Attribute: type oid, values the DER of a
--                   SET OF AttributeValue (e.g. id-ecPublicKey with the
--                   curve secp384r1; extensionRequest with a value)
-- These functions keep the rows well formed and audited; see doc/dba.md.

-- DER of an OBJECT IDENTIFIER in dotted form (X.690 8.19).
CREATE FUNCTION est.oid_der(oid text) RETURNS bytea
LANGUAGE plpgsql IMMUTABLE STRICT
AS $$
DECLARE
	arcs numeric[];
	body bytea := '\x'::bytea;
	first numeric;
	v numeric;
	chunk bytea;
	i int;
BEGIN
	IF oid !~ '^[0-2](\.(0|[1-9][0-9]{0,30}))+$' THEN
		RAISE EXCEPTION 'not an OID in dotted form: %', oid USING ERRCODE = '22023';
	END IF;
	arcs := string_to_array(oid, '.')::numeric[];
	IF arcs[1] < 2 AND arcs[2] > 39 THEN
		RAISE EXCEPTION 'second arc of % must be below 40', oid USING ERRCODE = '22023';
	END IF;
	first := arcs[1] * 40 + arcs[2];
	FOR i IN 2 .. array_length(arcs, 1) LOOP
		v := CASE WHEN i = 2 THEN first ELSE arcs[i] END;
		-- base 128, most significant group first, high bit on all but the last
		chunk := set_byte('\x00'::bytea, 0, (v % 128)::int);
		v := trunc(v / 128);
		WHILE v > 0 LOOP
			chunk := set_byte('\x00'::bytea, 0, (v % 128)::int + 128) || chunk;
			v := trunc(v / 128);
		END LOOP;
		body := body || chunk;
	END LOOP;
	IF length(body) > 127 THEN
		RAISE EXCEPTION 'OID % too long', oid USING ERRCODE = '22023';
	END IF;
	RETURN set_byte('\x0600'::bytea, 1, length(body)) || body;
END
$$;

-- DER of a SET OF holding the given DER values (sorted, as DER wants).
CREATE FUNCTION est.der_set(vals bytea[]) RETURNS bytea
LANGUAGE plpgsql IMMUTABLE STRICT
AS $$
DECLARE
	body bytea := '\x'::bytea;
	v bytea;
	n int;
BEGIN
	FOR v IN SELECT x FROM unnest(vals) AS x ORDER BY x LOOP
		body := body || v;
	END LOOP;
	n := length(body);
	IF n < 128 THEN
		RETURN set_byte('\x3100'::bytea, 1, n) || body;
	ELSIF n < 256 THEN
		RETURN set_byte('\x318100'::bytea, 2, n) || body;
	ELSIF n < 65536 THEN
		RETURN set_byte(set_byte('\x31820000'::bytea, 2, n / 256), 3, n % 256) || body;
	END IF;
	RAISE EXCEPTION 'attribute values too long' USING ERRCODE = '22023';
END
$$;

-- Append an AttrOrOID to alias's list; returns its position.
--   oid         the attribute or extension the client should send
--   value_oids  NULL: a bare OID; else an Attribute whose values are these
--               OIDs (e.g. ARRAY['1.3.132.0.34'] for secp384r1)
--   values_der  alternatively, the DER of the values SET itself
CREATE FUNCTION est.add_csrattr(alias text, oid text, value_oids text[] DEFAULT NULL,
	values_der bytea DEFAULT NULL) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
AS $$
DECLARE
	pos integer;
	vals bytea := values_der;
BEGIN
	PERFORM 1 FROM est.alias a WHERE a.name = add_csrattr.alias FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'no alias %', add_csrattr.alias USING ERRCODE = '22023';
	END IF;
	PERFORM est.oid_der(add_csrattr.oid);   -- refuses a malformed OID
	IF value_oids IS NOT NULL AND values_der IS NOT NULL THEN
		RAISE EXCEPTION 'give value_oids or values_der, not both' USING ERRCODE = '22023';
	END IF;
	IF value_oids IS NOT NULL THEN
		IF cardinality(value_oids) = 0 THEN
			RAISE EXCEPTION 'value_oids is empty' USING ERRCODE = '22023';
		END IF;
		SELECT est.der_set(array_agg(est.oid_der(v))) INTO vals
		  FROM unnest(value_oids) AS v;
	ELSIF vals IS NOT NULL AND (length(vals) < 2 OR get_byte(vals, 0) <> 49) THEN
		RAISE EXCEPTION 'values_der must be the DER of a SET OF' USING ERRCODE = '22023';
	END IF;
	SELECT coalesce(max(c.position) + 1, 0) INTO pos
	  FROM est.csrattr c WHERE c.alias = add_csrattr.alias;
	INSERT INTO est.csrattr (alias, position, oid, values_der)
	VALUES (add_csrattr.alias, pos, add_csrattr.oid, vals);
	PERFORM est.audit_dba(add_csrattr.alias, NULL, 'add_csrattr',
	    add_csrattr.oid || CASE WHEN vals IS NULL THEN '' ELSE ' with values' END);
	RETURN pos;
END
$$;

-- Remove every CSR attribute of alias (csrattrs then answers 204).
CREATE FUNCTION est.clear_csrattrs(alias text) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
AS $$
DECLARE
	n integer;
BEGIN
	DELETE FROM est.csrattr c WHERE c.alias = clear_csrattrs.alias;
	GET DIAGNOSTICS n = ROW_COUNT;
	PERFORM est.audit_dba(clear_csrattrs.alias, NULL, 'clear_csrattrs',
	    n || ' removed');
	RETURN n;
END
$$;

DO $pin$
DECLARE
	f text;
BEGIN
	FOREACH f IN ARRAY ARRAY[
	    'est.oid_der(text)', 'est.der_set(bytea[])',
	    'est.add_csrattr(text, text, text[], bytea)',
	    'est.clear_csrattrs(text)'] LOOP
		EXECUTE format('ALTER FUNCTION %s SET search_path = pg_catalog, pg_temp', f);
		EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
	END LOOP;
END
$pin$;

GRANT EXECUTE ON FUNCTION
	est.oid_der(text),
	est.add_csrattr(text, text, text[], bytea),
	est.clear_csrattrs(text)
	TO estca_dba;
