-- 011_generated_codes.sql - enrollment codes the CA generates get a fast
-- salted hash.
--
-- Applied by sql/estca-dbinit inside one transaction; no BEGIN/COMMIT here.
--
-- A code a person chose is short on entropy and keeps its slow bcrypt
-- hash (est.set_enrollment_code, est.register_end_entity).  A code the CA
-- generates has 128 random bits: nobody can guess it, and the lockout
-- after max_failed_attempts bounds online tries, so a slow hash would only
-- cost every enrollment tens of milliseconds of worker CPU.  Such a code
-- is stored as
--
--     $estca-sha256$<salt: 32 hex digits>$<SHA-256(salt || code): 64 hex digits>
--
-- with 16 random salt bytes, and the workers check it with one SHA-256
-- (compared in constant time).  Hashes stored before keep working.  The
-- code itself is returned once and never stored.

-- Give an end entity a new generated code good for uses enrollments (the
-- failure counter is cleared, as by est.set_enrollment_code), and return
-- the code: hand it to the device, it is not kept anywhere.  NULL when
-- there is no such end entity.
CREATE FUNCTION est.issue_enrollment_code(alias text, username text,
	uses integer DEFAULT 1)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
AS $$
DECLARE
	code text := encode(gen_random_bytes(16), 'hex');
	salt bytea := gen_random_bytes(16);
BEGIN
	IF uses IS NULL OR uses < 0 THEN
		RAISE EXCEPTION 'uses must be 0 or more' USING ERRCODE = '22023';
	END IF;
	UPDATE est.end_entity e
	   SET code_hash = '$estca-sha256$' || encode(salt, 'hex') || '$' ||
	           encode(digest(salt || convert_to(code, 'UTF8'), 'sha256'), 'hex'),
	       uses_left = $3, failed_attempts = 0
	 WHERE e.alias = $1 AND e.username = $2;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	PERFORM est.audit_dba($1, $2, 'issue_enrollment_code',
	    format('new generated enrollment code, %s use(s)', uses));
	RETURN code;
END
$$;

SELECT est.pin_functions(ARRAY['est.issue_enrollment_code(text, text, integer)']);

GRANT EXECUTE ON FUNCTION est.issue_enrollment_code(text, text, integer) TO estca_dba;
