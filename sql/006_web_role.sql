-- 006_web_role.sql - the web role may do what the workers do, nothing more.
--
-- Applied by sql/estca-dbinit inside one transaction; no BEGIN/COMMIT here.
-- Until now the table grants of estca_web (001, 005) let a worker's login
-- role write any value into the columns it may touch: an approval request
-- inserted as 'approved' with a DBA's name, an audit row claiming a
-- 'dba:' operation, uses_left raised, a locked end entity set active.  A
-- compromised worker must not be able to forge a DBA's decision, a DBA's
-- audit row, or more enrollments than the DBA gave (doc/dba.md, "The web
-- role").
--
-- Two layers:
--   - column grants: into est.audit and est.certificate the web role
--     inserts only the columns the workers fill (ids, timestamps and
--     revocations take their defaults);
--   - BEFORE triggers that, for a restricted role (est.web_restricted()),
--     allow only the changes the workers make, row by row:
--       est.end_entity        one use consumed (uses_left - 1, failure
--                             counter cleared or kept), or one failed
--                             attempt counted (failed_attempts + 1, and
--                             status 'locked' only once the alias's limit
--                             is reached); only while the end entity is
--                             active; no insert, no delete
--       est.audit             insert only, an EST operation name (no
--                             'dba:' or any other prefix), dated now()
--       est.approval_request  inserted pending and undecided; updated only
--                             to 'expired' once expires_at passed, or from
--                             'approved' to 'issued' with the serial of a
--                             certificate recorded under its alias; no
--                             delete
--       est.certificate       insert only, unrevoked
-- The DBA functions are SECURITY DEFINER and run as the owner of schema
-- est, which is not restricted; nor are superusers and members of
-- estca_dba that are not members of estca_web.

-- True when the current role may change est's tables only the way the web
-- tier does: every role but a superuser, the owner of schema est (whom
-- the DBA functions run as) and a member of estca_dba outside estca_web.
-- The triggers call it as the role that runs the statement.
CREATE FUNCTION est.web_restricted() RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce((
	    SELECT NOT (r.rolsuper
	        OR r.oid = (SELECT n.nspowner FROM pg_catalog.pg_namespace n
	                     WHERE n.nspname = 'est')
	        OR (pg_catalog.pg_has_role(r.oid, 'estca_dba', 'MEMBER')
	            AND NOT pg_catalog.pg_has_role(r.oid, 'estca_web', 'MEMBER')))
	      FROM pg_catalog.pg_roles r WHERE r.rolname = current_user), true);
$$;

-- est.end_entity: consume one use, or count one failed attempt.
CREATE FUNCTION est.end_entity_web_guard() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	max_failed integer;
BEGIN
	IF NOT est.web_restricted() THEN
		RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
	END IF;
	IF TG_OP <> 'UPDATE' THEN
		RAISE EXCEPTION 'the web tier may not % end entities', lower(TG_OP)
			USING ERRCODE = '42501';
	END IF;
	IF (NEW.id, NEW.alias, NEW.username, NEW.subject_dn, NEW.sans,
	    NEW.code_hash, NEW.require_approval, NEW.created_at)
	   IS DISTINCT FROM (OLD.id, OLD.alias, OLD.username, OLD.subject_dn,
	    OLD.sans, OLD.code_hash, OLD.require_approval, OLD.created_at) THEN
		RAISE EXCEPTION 'end entity %: the web tier may not change its registration',
			OLD.id USING ERRCODE = '42501';
	END IF;
	-- SELECT ... FOR UPDATE does not come here; an UPDATE that leaves the
	-- counters as they are changes nothing.
	IF (NEW.uses_left, NEW.failed_attempts, NEW.status)
	   IS NOT DISTINCT FROM (OLD.uses_left, OLD.failed_attempts, OLD.status) THEN
		RETURN NEW;
	END IF;
	IF OLD.status = 'active' THEN
		-- one enrollment used up (estca_db_ee_consume)
		IF OLD.uses_left > 0 AND NEW.uses_left = OLD.uses_left - 1
		   AND NEW.failed_attempts IN (0, OLD.failed_attempts)
		   AND NEW.status = 'active' THEN
			RETURN NEW;
		END IF;
		-- one wrong code counted, locking at the limit (estca_db_ee_failed)
		IF NEW.uses_left = OLD.uses_left
		   AND NEW.failed_attempts = OLD.failed_attempts + 1 THEN
			IF NEW.status = 'active' THEN
				RETURN NEW;
			END IF;
			SELECT a.max_failed_attempts INTO max_failed
			  FROM est.alias a WHERE a.name = OLD.alias;
			IF NEW.status = 'locked' AND NEW.failed_attempts >= max_failed THEN
				RETURN NEW;
			END IF;
		END IF;
	END IF;
	RAISE EXCEPTION 'end entity %: the web tier may only use up one enrollment '
		'or count one failed attempt (uses_left % to %, failed_attempts % to %, '
		'status % to %)', OLD.id, OLD.uses_left, NEW.uses_left,
		OLD.failed_attempts, NEW.failed_attempts, OLD.status, NEW.status
		USING ERRCODE = '42501';
END
$$;

CREATE TRIGGER end_entity_web_guard BEFORE INSERT OR UPDATE OR DELETE
	ON est.end_entity
	FOR EACH ROW EXECUTE FUNCTION est.end_entity_web_guard();

-- est.audit: the web tier appends rows about EST operations.
CREATE FUNCTION est.audit_web_guard() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NOT est.web_restricted() THEN
		RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
	END IF;
	IF TG_OP <> 'INSERT' THEN
		RAISE EXCEPTION 'the audit trail is append-only' USING ERRCODE = '42501';
	END IF;
	-- simpleenroll, simplereenroll, serverkeygen, ...: never 'dba:...',
	-- which only est.audit_dba writes
	IF NEW.operation IS NULL OR NEW.operation !~ '^[a-z][a-z0-9_-]{0,63}$' THEN
		RAISE EXCEPTION 'the web tier may not write audit rows of operation %',
			coalesce(quote_literal(NEW.operation), 'NULL') USING ERRCODE = '42501';
	END IF;
	IF NEW.at IS DISTINCT FROM now() THEN
		RAISE EXCEPTION 'the web tier may not date audit rows' USING ERRCODE = '42501';
	END IF;
	RETURN NEW;
END
$$;

CREATE TRIGGER audit_web_guard BEFORE INSERT OR UPDATE OR DELETE ON est.audit
	FOR EACH ROW EXECUTE FUNCTION est.audit_web_guard();

-- est.certificate: the web tier records what the engine signed.
CREATE FUNCTION est.certificate_web_guard() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NOT est.web_restricted() THEN
		RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
	END IF;
	IF TG_OP <> 'INSERT' THEN
		RAISE EXCEPTION 'the web tier may not % certificates', lower(TG_OP)
			USING ERRCODE = '42501';
	END IF;
	IF NEW.revoked_at IS NOT NULL OR NEW.revocation_reason IS NOT NULL
	   OR NEW.issued_at IS DISTINCT FROM now() THEN
		RAISE EXCEPTION 'the web tier records certificates as issued now, unrevoked'
			USING ERRCODE = '42501';
	END IF;
	RETURN NEW;
END
$$;

CREATE TRIGGER certificate_web_guard BEFORE INSERT OR UPDATE OR DELETE
	ON est.certificate
	FOR EACH ROW EXECUTE FUNCTION est.certificate_web_guard();

-- est.approval_request: 005's guard (state transitions; only the DBA
-- functions decide), now also on INSERT and DELETE, and with the web
-- tier's two updates spelled out.
CREATE OR REPLACE FUNCTION est.approval_request_guard() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	web boolean := est.web_restricted();
BEGIN
	IF TG_OP = 'INSERT' THEN
		IF web AND (NEW.status IS DISTINCT FROM 'pending'
		    OR NEW.decided_at IS NOT NULL OR NEW.decided_by IS NOT NULL
		    OR NEW.reason IS NOT NULL OR NEW.serial IS NOT NULL
		    OR NEW.issued_at IS NOT NULL
		    OR NEW.submitted_at IS DISTINCT FROM now()
		    OR NEW.expires_at IS DISTINCT FROM now() + interval '7 days') THEN
			RAISE EXCEPTION 'the web tier queues requests pending and undecided'
				USING ERRCODE = '42501';
		END IF;
		RETURN NEW;
	END IF;
	IF TG_OP = 'DELETE' THEN
		IF web THEN
			RAISE EXCEPTION 'the web tier may not delete approval requests'
				USING ERRCODE = '42501';
		END IF;
		RETURN OLD;
	END IF;
	IF NEW.status IS DISTINCT FROM OLD.status THEN
		IF NOT ((OLD.status = 'pending' AND NEW.status IN ('approved', 'rejected', 'expired'))
		     OR (OLD.status = 'approved' AND NEW.status IN ('rejected', 'issued', 'expired'))) THEN
			RAISE EXCEPTION 'approval request %: % to % is not allowed', OLD.id,
				OLD.status, NEW.status USING ERRCODE = '22023';
		END IF;
		IF NEW.status IN ('approved', 'rejected') AND web THEN
			RAISE EXCEPTION 'only est.approve_request / est.reject_request decide a request'
				USING ERRCODE = '42501';
		END IF;
	END IF;
	IF NOT web THEN
		RETURN NEW;
	END IF;
	IF (NEW.id, NEW.alias, NEW.end_entity, NEW.username, NEW.operation,
	    NEW.csr_sha256, NEW.csr_der, NEW.spki_der, NEW.subject, NEW.sans,
	    NEW.requester, NEW.submitted_at, NEW.expires_at, NEW.decided_at,
	    NEW.decided_by, NEW.reason)
	   IS DISTINCT FROM (OLD.id, OLD.alias, OLD.end_entity, OLD.username,
	    OLD.operation, OLD.csr_sha256, OLD.csr_der, OLD.spki_der, OLD.subject,
	    OLD.sans, OLD.requester, OLD.submitted_at, OLD.expires_at,
	    OLD.decided_at, OLD.decided_by, OLD.reason) THEN
		RAISE EXCEPTION 'approval request %: the web tier may change only its status',
			OLD.id USING ERRCODE = '42501';
	END IF;
	IF NEW.status = OLD.status THEN
		IF (NEW.serial, NEW.issued_at) IS DISTINCT FROM (OLD.serial, OLD.issued_at) THEN
			RAISE EXCEPTION 'approval request %: the web tier may not change its serial',
				OLD.id USING ERRCODE = '42501';
		END IF;
		RETURN NEW;
	END IF;
	-- estca_db_approval_mark(..., "expired", NULL): the client came back late
	IF NEW.status = 'expired' AND OLD.expires_at <= now()
	   AND NEW.serial IS NULL AND NEW.issued_at IS NULL THEN
		RETURN NEW;
	END IF;
	-- estca_db_approval_mark(..., "issued", serial): after the certificate
	-- was recorded, in the same transaction
	IF NEW.status = 'issued' AND OLD.expires_at > now()
	   AND NEW.issued_at IS NOT DISTINCT FROM now()
	   AND EXISTS (SELECT 1 FROM est.certificate c
	                WHERE c.serial = NEW.serial AND c.alias = OLD.alias) THEN
		RETURN NEW;
	END IF;
	RAISE EXCEPTION 'approval request %: the web tier may mark it % only when %',
		OLD.id, NEW.status, CASE NEW.status
		WHEN 'expired' THEN 'it has expired, without a serial'
		ELSE 'approved and unexpired, with the serial of a certificate it recorded' END
		USING ERRCODE = '42501';
END
$$;

DROP TRIGGER approval_request_guard ON est.approval_request;
CREATE TRIGGER approval_request_guard BEFORE INSERT OR UPDATE OR DELETE
	ON est.approval_request
	FOR EACH ROW EXECUTE FUNCTION est.approval_request_guard();

DO $pin$
DECLARE
	f text;
BEGIN
	FOREACH f IN ARRAY ARRAY[
	    'est.web_restricted()',
	    'est.end_entity_web_guard()',
	    'est.audit_web_guard()',
	    'est.certificate_web_guard()',
	    'est.approval_request_guard()'] LOOP
		EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
	END LOOP;
END
$pin$;

-- The triggers call est.web_restricted() as the role whose statement fired
-- them (the trigger functions themselves need no grant).
GRANT EXECUTE ON FUNCTION est.web_restricted() TO estca_web, estca_dba;

-- Inserts into the audit trail and the certificate table: only the columns
-- the workers fill (fcgi/db.c); id, at, issued_at and the revocation take
-- their defaults, so the web role cannot pick ids (and make a DBA
-- function's audit row collide) or fill gaps in the trail.  Revoking the
-- table privilege first drops any column privilege of the same kind too.
-- A later migration that adds a column the workers write must grant it.
REVOKE INSERT ON est.audit, est.certificate FROM estca_web;
GRANT INSERT (alias, username, operation, decision, reason, requester, serial)
	ON est.audit TO estca_web;
GRANT INSERT (issuer, serial, subject, not_before, not_after, der, end_entity,
	alias) ON est.certificate TO estca_web;
-- est.approval_request keeps 005's table-wide INSERT (later migrations add
-- columns the workers fill); approval_request_guard checks the columns
-- that matter.  Updates stay as 001 and 005 granted them (SELECT ... FOR
-- UPDATE needs an UPDATE privilege): est.end_entity (uses_left,
-- failed_attempts, status), est.approval_request (status, serial,
-- issued_at), both guarded above.
