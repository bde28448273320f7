#!/usr/bin/env bash
# Runs the Windows build of the Go tests under Wine (Debian bookworm's wine
# 8.0): headless, offline, in a private network namespace when root.
# See ../shared/design/wine.md for why each step is here.
#
# Usage: .ci/wine-go-test.sh [go test args... packages]
#        (default: every package outside internal/linux/)
# Env:   WINEPREFIX (default /tmp/whobinds-wine), WINE_NETNS=0 to stay in
#        the host's network namespace.
set -euo pipefail
cd "$(dirname "$0")/.."

export WINEPREFIX="${WINEPREFIX:-/tmp/whobinds-wine}"
export WINEARCH=win64
export WINEDEBUG="${WINEDEBUG:--all}"    # no fixme/err chatter
export WINEDLLOVERRIDES="mscoree,mshtml=" # never look for Mono or Gecko
unset DISPLAY WAYLAND_DISPLAY             # headless: wine's null driver

if [ -z "${_WINE_GO_INNER:-}" ]; then
	# Packages: wine and wine64 without recommends (no X, no i386).
	if ! command -v wine >/dev/null || [ ! -x /usr/lib/wine/wine64 ]; then
		SUDO=
		[ "$(id -u)" = 0 ] || SUDO=sudo
		$SUDO apt-get update -qq
		DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends wine wine64 >/dev/null
	fi
	# One run per prefix at a time: runs would share one wineserver.
	exec 9>"$WINEPREFIX.lock"
	flock 9
	if [ ! -f "$WINEPREFIX/system.reg" ]; then
		echo "wine-go-test: creating the prefix $WINEPREFIX (about 15 s)" >&2
		wine wineboot -i >/dev/null 2>&1 || true
		wineserver -w
	fi
	# Go >= 1.22 needs bcryptprimitives.dll!ProcessPrng, which wine 8 lacks.
	dll="$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll"
	[ -s "$dll" ] || go run ./.ci/mkshim "$dll"
	go mod download
	# A private network namespace: the tables then hold only this run's
	# sockets (wine 8 lists, and slowly scans, every socket of the host).
	if [ "${WINE_NETNS:-1}" = 1 ] && [ "$(id -u)" = 0 ] && command -v unshare >/dev/null && command -v ip >/dev/null; then
		exec unshare -n env _WINE_GO_INNER=netns GOPROXY=off GOFLAGS="${GOFLAGS:-} -mod=readonly" "$0" "$@"
	fi
	export _WINE_GO_INNER=host
fi
if [ "$_WINE_GO_INNER" = netns ]; then
	ip link set lo up
fi

# One persistent wineserver and wine's services for the whole run: about
# 0.15 s per test binary instead of 3 s.
wineserver -p
trap 'wineserver -k 2>/dev/null || true' EXIT
wine wineboot >/dev/null 2>&1 || true

# By default every package but internal/linux/...: those read Linux file
# systems (symlinked unit files, unreadable files) and are only built and
# vetted for Windows, by .ci/run.
pkgs=0
for a in "$@"; do
	case $a in
	-*) ;;
	./* | */*) pkgs=1 ;;
	esac
done
if [ $pkgs = 0 ]; then
	# shellcheck disable=SC2046
	set -- "$@" $(go list ./... | grep -v /internal/linux/)
fi
GOOS=windows GOARCH=amd64 CGO_ENABLED=0 go test -exec wine "$@"
