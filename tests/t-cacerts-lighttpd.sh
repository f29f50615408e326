#!/bin/bash
ESTCA_TEST_WEB=lighttpd exec bash "$(dirname "$0")/t-cacerts.sh" "$@"
