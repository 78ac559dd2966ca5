#!/usr/bin/env bash
# Installs the command-line tools some tests run, from Debian's packages, into .cache/servers/debian/ (git-ignored),
# without touching the system: `apt-get download` fetches each package, `dpkg-deb -x` unpacks it into a root of
# its own. Nothing is configured or registered with dpkg; removing the folder removes them.
#   promtool  Debian's `prometheus` package: `promtool check rules` / `promtool test rules` (monitoring/)
#   zsh       `zsh` and `zsh-common`: the zsh completion script's syntax, and its function run with stubs
#   fish      `fish`, `fish-common` and `libpcre2-32-0`: the fish completion script, queried with `complete -C`
#
# Usage: scripts/servers/install-debian-tools.sh [promtool] [zsh] [fish]     (no argument = all three)
# Prints "ok" lines when already installed (a stamp per tool holds the package version it unpacked; remove
# .cache/servers/debian/<tool> to fetch Debian's current one). A tool already
# on PATH is not used: the tests run the pinned Debian release's, the same everywhere. Needs apt-get and dpkg-deb
# (Debian, Ubuntu) and apt's package lists (`apt-get update` once); it says so when they are missing.
#
# Environment overrides:
#   SERVERS_CACHE_DIR  install root (default: <repo>/.cache/servers)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="${SERVERS_CACHE_DIR:-$ROOT/.cache/servers}"
DEBIAN="$CACHE/debian"
STAMPS="$CACHE/stamps"

die() {
  echo "install-debian-tools.sh: ERROR: $*" >&2
  exit 1
}
log() { echo "install-debian-tools.sh: $*" >&2; }

if [[ $# -eq 0 ]]; then set -- promtool zsh fish; fi
for tool in "$@"; do
  case "$tool" in
  promtool | zsh | fish) ;;
  *) die "unknown tool '$tool' (expected promtool, zsh, fish)" ;;
  esac
done

mkdir -p "$STAMPS" "$DEBIAN"
# Test files in parallel workers may ask at once; one unpacks, the others then find the stamps.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$DEBIAN/install.lock"
  flock 9
fi

# packages TOOL: the Debian packages it takes; binary TOOL: where it lands inside its root.
packages() {
  case "$1" in
  promtool) echo "prometheus" ;;
  zsh) echo "zsh zsh-common" ;;
  fish) echo "fish fish-common libpcre2-32-0" ;;
  esac
}
binary() {
  case "$1" in
  promtool) echo "usr/bin/promtool" ;;
  zsh) echo "bin/zsh" ;;
  fish) echo "usr/bin/fish" ;;
  esac
}

for tool in "$@"; do
  root="$DEBIAN/$tool/root"
  bin="$root/$(binary "$tool")"
  stamp="$STAMPS/debian-$tool"
  # Kept once unpacked (asking apt for the current version costs seconds); remove the folder to refresh.
  if [[ -x "$bin" && -s "$stamp" ]]; then
    log "ok $tool $(cat "$stamp") (Debian package, unpacked in $root)"
    continue
  fi
  command -v apt-get >/dev/null 2>&1 && command -v dpkg-deb >/dev/null 2>&1 ||
    die "$tool: apt-get and dpkg-deb not found; the tests take $tool from Debian's packages ($(packages "$tool")) on Debian or Ubuntu"
  version="$(apt-cache policy "$(packages "$tool" | cut -d' ' -f1)" 2>/dev/null | sed -n 's/^ *Candidate: *//p')"
  [[ -n "$version" && "$version" != "(none)" ]] ||
    die "$tool: apt knows no package $(packages "$tool" | cut -d' ' -f1); run 'apt-get update' (as root) once so apt has Debian's package lists"
  log "installing $tool from Debian's $(packages "$tool") $version into $root"
  rm -rf "$DEBIAN/$tool"
  mkdir -p "$DEBIAN/$tool/debs" "$root"
  # shellcheck disable=SC2046 # the package list is meant to split into words
  (cd "$DEBIAN/$tool/debs" && apt-get download -q -o APT::Sandbox::User=root $(packages "$tool") >/dev/null) ||
    die "$tool: apt-get download $(packages "$tool") failed (no network to deb.debian.org, or stale lists: apt-get update)"
  for deb in "$DEBIAN/$tool/debs"/*.deb; do dpkg-deb -x "$deb" "$root"; done
  rm -rf "$DEBIAN/$tool/debs"
  [[ -x "$bin" ]] || die "$tool: unpacked, but $bin is missing"
  printf '%s' "$version" >"$stamp"
done
