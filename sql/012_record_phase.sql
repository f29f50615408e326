-- 012_record_phase.sql - an issued certificate is recorded by one
-- statement, sent with its COMMIT; workers hear about alias and RA role
-- changes.
--
-- Applied by sql/estca-dbinit inside one transaction; no BEGIN/COMMIT here.

-- Everything an issued certificate writes, inside the worker's open
-- transaction (the end entity's row is locked by then): the certificate,
-- one use of the end entity consumed (when consume), the approval request
-- marked issued (when approval is not NULL) and the accepting est.audit
-- row.  The worker sends it and its COMMIT in one round trip
-- (fcgi/db_enroll.c); anything that fails raises, so the COMMIT queued
-- behind it is never run and none of it is written.  SECURITY INVOKER: it
-- runs as the worker's role, under the same column grants and guard
-- triggers (006_web_role.sql) as the four statements it replaces.
CREATE FUNCTION est.record_issue(p_issuer text, p_serial text,
	p_subject text, p_not_before timestamptz, p_not_after timestamptz,
	p_der bytea, p_end_entity bigint, p_alias text, p_consume boolean,
	p_approval bigint, p_username text, p_operation text, p_reason text,
	p_requester text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
AS $$
BEGIN
	INSERT INTO est.certificate (issuer, serial, subject, not_before,
	    not_after, der, end_entity, alias)
	VALUES (p_issuer, p_serial, p_subject, p_not_before, p_not_after,
	    p_der, p_end_entity, p_alias);
	IF p_consume THEN
		UPDATE est.end_entity
		   SET uses_left = uses_left - 1, failed_attempts = 0
		 WHERE id = p_end_entity AND uses_left > 0;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'end entity %: no use left', p_end_entity
			    USING ERRCODE = 'P0001';
		END IF;
	END IF;
	IF p_approval IS NOT NULL THEN
		UPDATE est.approval_request
		   SET status = 'issued', serial = p_serial, issued_at = now()
		 WHERE id = p_approval;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'approval request %: not updated', p_approval
			    USING ERRCODE = 'P0001';
		END IF;
	END IF;
	INSERT INTO est.audit (alias, username, operation, decision, reason,
	    requester, serial)
	VALUES (p_alias, p_username, p_operation, 'accept', p_reason,
	    p_requester, p_serial);
END
$$;

SELECT est.pin_functions(ARRAY['est.record_issue(text, text, text, '
    'timestamptz, timestamptz, bytea, bigint, text, boolean, bigint, text, '
    'text, text, text)']);
GRANT EXECUTE ON FUNCTION est.record_issue(text, text, text, timestamptz,
	timestamptz, bytea, bigint, text, boolean, bigint, text, text, text,
	text) TO estca_web;

-- Workers keep the alias rows and RA role members they read (fcgi/db_kept.c)
-- for as long as their connection LISTENs on estca_config; every
-- statement that changes est.alias, est.role or est.role_member, by any
-- role and any path, notifies it when it commits, and each worker then
-- forgets all it kept and reads it again.
CREATE FUNCTION est.config_changed() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM pg_notify('estca_config', TG_TABLE_NAME);
	RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION est.config_changed() FROM PUBLIC;

CREATE TRIGGER alias_changed
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON est.alias
	FOR EACH STATEMENT EXECUTE FUNCTION est.config_changed();
CREATE TRIGGER role_changed
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON est.role
	FOR EACH STATEMENT EXECUTE FUNCTION est.config_changed();
CREATE TRIGGER role_member_changed
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON est.role_member
	FOR EACH STATEMENT EXECUTE FUNCTION est.config_changed();

-- The guard triggers of 006_web_role.sql ask est.web_restricted() on every
-- row the workers write (three times per issued certificate).  As a SQL
-- function with its own search_path it could not be inlined, and its
-- query over pg_roles was parsed and planned anew on every call; in
-- PL/pgSQL the plan is kept for the session.  Same rule, same answer.
CREATE OR REPLACE FUNCTION est.web_restricted() RETURNS boolean
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN coalesce((
	    SELECT NOT (r.rolsuper
	        OR r.oid = (SELECT n.nspowner FROM pg_catalog.pg_namespace n
	                     WHERE n.nspname = 'est')
	        OR (pg_catalog.pg_has_role(r.oid, 'estca_dba', 'MEMBER')
	            AND NOT pg_catalog.pg_has_role(r.oid, 'estca_web', 'MEMBER')))
	      FROM pg_catalog.pg_roles r WHERE r.rolname = current_user), true);
END
$$;
