# est-lib.sh - helpers for the EST integration tests (source after
# lib.sh and rig_up, with W set to the test's work directory):
# DBA SQL, CSRs made with openssl, POSTs with curl, reading replies.

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
http_code_of() {
	sed -n 's/^< HTTP\/[0-9.]* \([0-9]*\).*/\1/p' "$1" | tail -n1
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
http_code_of() {
	sed -n 's/^< HTTP\/[0-9.]* \([0-9]*\).*/\1/p' "$1" | tail -n1
}
