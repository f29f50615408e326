# est-lib.sh - helpers for the EST integration tests (source after
# lib.sh and rig_up, with W set to the test's work directory):
# DBA SQL, CSRs made with openssl, POSTs with curl, reading replies, a
# test PKI (mkca, mkleaf).

# dba SQL [psql -v options...]: run SQL (stdin of psql) as role estca_dba.
dba() {
	local sql=$1
	shift
	# As doc/dba.md advises: statements that carry codes or passwords stay
	# out of the server log, even when they fail.
	printf 'SET log_min_error_statement = panic;\nSET ROLE estca_dba;\n%s\n' "$sql" |
	    psql -X -q -At -v ON_ERROR_STOP=1 "$@" "$ESTCA_PGURI"
}

# sql QUERY: one value, as the superuser (for checks only).
sql() {
	psql -X -q -At -v ON_ERROR_STOP=1 "$ESTCA_PGURI" -c "$1"
}

# register USER CODE DN SANS(array literal) [USES] [ALIAS]
register() {
	note_secret "$2"
	dba "SELECT est.register_end_entity(:'alias', :'user', NULLIF(:'dn', ''),
	    :'sans'::text[], :'code', :'uses'::integer);" \
	    -v alias="${6:-est}" -v user="$1" -v code="$2" -v dn="$3" \
	    -v sans="$4" -v uses="${5:-1}" >/dev/null
}

# conf_value TEXT: TEXT escaped for an OpenSSL configuration value.
conf_value() {
	printf '%s' "$1" | sed -e 's/[\\"#$'"'"']/\\&/g'
}

# mkcsr NAME SUBJ SAN CODE [ec|rsa|KEYFILE]: $W/NAME.key, .der, .b64
# (openssl base64: 64-character lines).  SUBJ is /type=value/...; SAN ""
# for none, CODE "" for no challengePassword.  openssl req drops the
# config's attributes when -subj is given, so the subject goes into the
# config too.
mkcsr() {
	local name=$1 subj=$2 san=$3 code=$4 key=${5:-ec} keyargs rdn i=0
	note_secret "$code"
	{
		printf '[req]\ndistinguished_name = dn\nprompt = no\nutf8 = yes\n'
		printf 'string_mask = utf8only\n'
		[ -z "$code" ] || printf 'attributes = attrs\n'
		printf '[dn]\n'
		IFS=/ read -r -a rdns <<<"${subj#/}"
		for rdn in "${rdns[@]}"; do
			printf '%d.%s = %s\n' "$i" "${rdn%%=*}" "$(conf_value "${rdn#*=}")"
			i=$((i + 1))
		done
		[ -z "$code" ] ||
		    printf '[attrs]\nchallengePassword = %s\n' "$(conf_value "$code")"
	} >"$W/$name.cnf"
	case $key in
	ec) keyargs=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$W/$name.key") ;;
	rsa) keyargs=(-newkey rsa:2048 -nodes -keyout "$W/$name.key") ;;
	*) keyargs=(-key "$key"); cp "$key" "$W/$name.key" ;;
	esac
	openssl req -new "${keyargs[@]}" -config "$W/$name.cnf" \
	    ${san:+-addext "subjectAltName=$san"} -outform DER \
	    -out "$W/$name.der" 2>"$W/$name.err" &&
	    openssl base64 -in "$W/$name.der" -out "$W/$name.b64"
}

# post NAME OP FILE [curl options...]: POST FILE (--data-binary) to OP;
# $W/NAME.hdr and $W/NAME.body; prints the status.
post() {
	local name=$1 op=$2 file=$3
	shift 3
	curl -s --cacert "$ESTCA_CACERT" --max-time 60 -D "$W/$name.hdr" \
	    -o "$W/$name.body" -w '%{http_code}' -H 'Content-Type: application/pkcs10' \
	    --data-binary "@$file" "$@" "$op"
}

header() {
	sed -n "s/^$2:[[:space:]]*//Ip" "$1" | tr -d '\r' | tail -n1
}

# certof NAME: the PKCS#7 reply of NAME -> $W/NAME.pem (one certificate)
# which verifies against the CA.
certof() {
	openssl base64 -d -in "$W/$1.body" -out "$W/$1.p7" &&
	    openssl pkcs7 -inform DER -in "$W/$1.p7" -print_certs -out "$W/$1.pem" &&
	    [ "$(grep -c 'BEGIN CERTIFICATE' "$W/$1.pem")" -eq 1 ] &&
	    openssl verify -CAfile "$ESTCA_CA_CHAIN" "$W/$1.pem"
}

serial_of() {
	openssl x509 -in "$1" -noout -serial | cut -d= -f2 | sed 's/^0*//'
}

reason_of() {
	tr -d '\r\n' <"$W/$1.body"
}

# req_id NAME: the approval request number in the 202 body of reply NAME
req_id() {
	sed -n 's/^request \([0-9]*\) is waiting for approval.*/\1/p' "$W/$1.body"
}

# trust_client_roots PEM...: have the web server pass client certificates
# that chain to these roots (vendor or RA CAs made by a test) on to the
# workers.  Apache's optional_no_ca passes every certificate already;
# lighttpd exports only what verifies against its CA file, which rig.sh
# builds from DIR/ca/client-roots/ when it starts: copy them there and
# restart the rig (its database, token and CA stay; the port may change).
trust_client_roots() {
	local f
	[ "${ESTCA_WEB:-apache}" = lighttpd ] || return 0
	mkdir -p "$ESTCA_RIG_DIR/ca/client-roots"
	for f in "$@"; do
		cp "$f" "$ESTCA_RIG_DIR/ca/client-roots/" || return 1
	done
	"$RIG_SH" down "$RIG_DIR" >/dev/null 2>&1 &&
	    "$RIG_SH" up "$RIG_DIR" --port 0 --builddir "$top_builddir" \
	    --web lighttpd >"$W/rig-restart.log" 2>&1 || return 1
	set -a
	# shellcheck disable=SC1091
	. "$RIG_DIR/rig.env"
	set +a
	EST=$ESTCA_URL/.well-known/est
}

# http_code_of LOG: the status of the last response in a curl -v log.
# curl's progress meter starts each redraw with a CR and ends it with
# nothing, so the next verbose line (the status line too, when the answer
# took a second or more) is written right after the meter's figures: the
# status is looked for anywhere on a line, not only at its start.
http_code_of() {
	tr '\r' '\n' <"$1" |
	    sed -n 's/.*< HTTP\/[0-9.]* \([0-9][0-9][0-9]\).*/\1/p' | tail -n1
}

# ---- load and the books (t-load, t-faults) ----------------------------------

# load_run TAG URL C PER SECS [curl options...]: C keep-alive clients (one
# curl each) POST $W/cI.b64 PER times each to URL, bounded by SECS in all.
# Statuses go to $W/TAG/status.I (one line per request), bodies to
# $W/TAG/out/I-J.
load_run() {
	local tag=$1 url=$2 c=$3 per=$4 secs=$5 i j o
	shift 5
	mkdir -p "$W/$tag/out"
	for i in $(seq 1 "$c"); do
		{
			printf 'cacert = "%s"\n' "$ESTCA_CACERT"
			printf 'header = "Content-Type: application/pkcs10"\n'
			printf 'data-binary = "@%s"\nmax-time = 30\nsilent\n' "$W/c$i.b64"
			printf 'write-out = "%%{http_code}\\n"\n'
			for o in "$@"; do printf '%s\n' "$o"; done
			for j in $(seq 1 "$per"); do
				printf 'url = "%s"\noutput = "%s/%s/out/%d-%d"\n' "$url" "$W" "$tag" "$i" "$j"
			done
		} >"$W/$tag/c$i.curl"
	done
	for i in $(seq 1 "$c"); do
		timeout "$secs" curl -K "$W/$tag/c$i.curl" >"$W/$tag/status.$i" 2>"$W/$tag/curl.$i.err" &
	done
	wait
}

# load_each TAG FN: FN CLIENT REQUEST STATUS for every answer of run TAG
# (FN sees the caller's locals).
load_each() {
	local f i j st
	for f in "$W/$1"/status.*; do
		i=${f##*.}
		[ "$i" != all ] || continue
		j=0
		while read -r st; do
			j=$((j + 1))
			"$2" "$i" "$j" "$st"
		done <"$f"
	done
}

# load_tally TAG: L_TOTAL, L_200 and L_STATUSES ("N×code ...") of run TAG;
# the serials of the certificates its 200s carried go to $W/serials.client,
# and L_BAD counts 200s without exactly one certificate.
load_tally() {
	local tag=$1
	cat "$W/$tag"/status.* >"$W/$tag/status.all"
	L_TOTAL=$(grep -c '' "$W/$tag/status.all")
	L_200=$(grep -c '^200$' "$W/$tag/status.all")
	L_STATUSES=$(sort "$W/$tag/status.all" | uniq -c | awk '{ printf "%s%sx%s", s, $1, $2; s = " " }')
	L_BAD=0
	load_each "$tag" tally_one
}
tally_one() {
	[ "$3" = 200 ] || return 0
	openssl base64 -d -in "$W/$tag/out/$1-$2" |
	    openssl pkcs7 -inform DER -print_certs 2>/dev/null |
	    openssl x509 -noout -serial 2>/dev/null | cut -d= -f2 |
	    sed 's/^0*//' | grep . >>"$W/serials.client" ||
	    L_BAD=$((L_BAD + 1))
}

# load_why TAG ALLOWED: diagnostics for answers of run TAG whose status is
# not one of ALLOWED (a regex of codes): up to five of them with the reason
# each carried, then the last lines of the web server's and the workers'
# logs, so that a failure far from here explains itself.
load_why() {
	local tag=$1 allowed=$2 n=0 f
	load_each "$tag" why_one
	for f in "$ESTCA_RIG_DIR/log/${ESTCA_TEST_WEB:-apache}-error.log" \
	    "$ESTCA_RIG_DIR/log/lighttpd-workers.log"; do
		diag_file "$f" 15
	done
}
why_one() {
	! printf '%s\n' "$3" | grep -qE "^($allowed)\$" || return 0
	n=$((n + 1))
	[ "$n" -le 5 ] || return 0
	diag "$tag: client $1 request $2: $3: $(head -c 200 "$W/$tag/out/$1-$2" 2>/dev/null | tr -d '\r' | head -n 1)"
}

# books ALIAS N200 NFAIL USES [KILLED]: the tables and the engine's audit
# log against what the clients were told: N200 answers 200 (their serials
# in $W/serials.client), NFAIL answers that were not 200, USES enrollments
# registered for the alias's end entities in all.  KILLED (default 0): how
# many requests were in the hands of a worker that was killed, or given up
# by their client; each may have been recorded without reaching its
# client, nothing else may.
# TAP lines.
books() {
	local alias=$1 n200=$2 nfail=$3 uses=$4 killed=${5:-0} lost rows undelivered
	sort -u -o "$W/serials.client" "$W/serials.client"
	sql "SELECT serial FROM est.certificate WHERE alias = '$alias'" | sort >"$W/serials.db"
	rows=$(grep -c '' "$W/serials.db")
	is "books: every certificate a client got is recorded" \
	    "$(comm -23 "$W/serials.client" "$W/serials.db" | grep -c '')" 0
	is "books: 200 answers = distinct certificates delivered" \
	    "$(grep -c '' "$W/serials.client")" "$n200"
	undelivered=$((rows - n200))
	diag "books: $rows certificates recorded, $n200 delivered, $nfail failed answers"
	if [ "$undelivered" -ge 0 ] && [ "$undelivered" -le "$killed" ]; then
		ok "books: recorded but not delivered ($undelivered) only where a worker was killed ($killed)"
	else
		fail "books: recorded but not delivered only where a worker was killed" \
		    "$undelivered recorded without a 200, $killed allowed"
	fi
	is "books: accept rows in est.audit = certificates recorded" \
	    "$(sql "SELECT count(*) FROM est.audit WHERE alias = '$alias' AND decision = 'accept'
	        AND operation = 'simpleenroll'")" "$rows"
	is "books: enrollments used up = certificates recorded (no failure used one)" \
	    "$(sql "SELECT $uses - sum(uses_left) FROM est.end_entity WHERE alias = '$alias'")" "$rows"
	grep "event=sign result=issued" "$ESTCA_RIG_DIR/log/audit.log" | grep "alias=$alias " |
	    sed -n 's/.* serial=\([^ ]*\) .*/\1/p' | sort >"$W/serials.engine"
	sql "SELECT serial FROM est.audit WHERE alias = '$alias' AND decision = 'refuse'
	     AND reason LIKE 'certificate signed but not recorded%'" | sort >"$W/serials.unrecorded"
	sort -u "$W/serials.db" "$W/serials.unrecorded" >"$W/serials.known"
	is "books: every recorded serial is in the engine's audit log" \
	    "$(comm -13 "$W/serials.engine" "$W/serials.db" | grep -c '')" 0
	lost=$(comm -23 "$W/serials.engine" "$W/serials.known" | grep -c '')
	diag "books: engine issued $(grep -c '' "$W/serials.engine"); $(grep -c '' "$W/serials.unrecorded") audited as signed but not recorded; $lost replies lost"
	if [ "$lost" -le "$nfail" ]; then
		ok "books: engine serials not in the tables ($lost) are at most the failed answers ($nfail)"
	else
		fail "books: engine serials not in the tables are at most the failed answers" "$lost > $nfail"
	fi
}

# ---- a test PKI made with openssl: EC CAs and TLS client certificates ----

# pki_ext: $W/pki-ext.cnf, the extensions mkca and mkleaf give (a CA; a
# clientAuth leaf).
pki_ext() {
	cat >"$W/pki-ext.cnf" <<'EOF'
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[leaf]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
EOF
}

# mkca NAME SUBJ [ISSUER]: $W/NAME.key (P-384), $W/NAME.pem; self-signed
# without ISSUER.
mkca() {
	pki_ext &&
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 \
	    -out "$W/$1.key" 2>/dev/null || return 1
	if [ -z "${3:-}" ]; then
		openssl req -x509 -new -key "$W/$1.key" -subj "$2" -days 30 \
		    -config "$W/pki-ext.cnf" -extensions ca -out "$W/$1.pem" 2>/dev/null
	else
		openssl req -new -key "$W/$1.key" -subj "$2" -out "$W/$1.csr" 2>/dev/null &&
		    openssl x509 -req -in "$W/$1.csr" -CA "$W/$3.pem" -CAkey "$W/$3.key" \
		    -CAcreateserial -days 30 -extfile "$W/pki-ext.cnf" -extensions ca \
		    -out "$W/$1.pem" 2>/dev/null
	fi
}

# mkleaf NAME SUBJ ISSUER [DAYS]: $W/NAME.key (P-256), $W/NAME.pem (leaf
# only) and $W/NAME.chain.pem (leaf + issuer)
mkleaf() {
	pki_ext &&
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
	    -out "$W/$1.key" 2>/dev/null &&
	    openssl req -new -key "$W/$1.key" -subj "$2" -out "$W/$1.csr" 2>/dev/null &&
	    openssl x509 -req -in "$W/$1.csr" -CA "$W/$3.pem" -CAkey "$W/$3.key" \
	    -CAcreateserial -days "${4:-30}" -extfile "$W/pki-ext.cnf" -extensions leaf \
	    -out "$W/$1.pem" 2>/dev/null &&
	    cat "$W/$1.pem" "$W/$3.pem" >"$W/$1.chain.pem"
}
