#!/usr/bin/env bash
# rpc.sh - what the RPC endpoint-map join costs: whobinds' listing with and
# without rpcbind running, next to ss and rpcinfo, in a private network and
# mount namespace (nothing leaves it; the host's /run is untouched).
#
# Usage: tools/bench/rpc.sh [RUNS]        (run as root; RUNS defaults to 30)
#
# Needs hyperfine, rpcbind, rpc.statd, rpc.mountd (Debian: rpcbind,
# nfs-common, nfs-kernel-server), rpcinfo, ss and unshare. Prints hyperfine's
# Markdown tables on stdout: first with nothing on ports 111 and 135 (no
# lookup is made), then with rpcbind, statd and mountd registered (whobinds
# asks rpcbind once and attributes every registered port).
set -euo pipefail

runs=${1:-30}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
if [[ ${WHOBINDS_RPC_BENCH_INNER:-} != 1 ]]; then
	for c in hyperfine rpcinfo ss unshare; do
		command -v "$c" >/dev/null || { echo "rpc.sh: $c is missing (apt-get install hyperfine rpcbind iproute2 util-linux)" >&2; exit 2; }
	done
	for c in rpcbind rpc.statd rpc.mountd; do
		[[ -x /usr/sbin/$c || -x /sbin/$c ]] || { echo "rpc.sh: $c is missing (apt-get install rpcbind nfs-common nfs-kernel-server)" >&2; exit 2; }
	done
	scratch=$(mktemp -d)
	trap 'rm -rf "$scratch"' EXIT
	(cd "$repo" && CGO_ENABLED=0 go build -o "$scratch/whobinds" ./cmd/whobinds)
	WHOBINDS_RPC_BENCH_INNER=1 WB="$scratch/whobinds" SCRATCH=$scratch RUNS=$runs \
		unshare --net --mount --propagation private "${BASH_SOURCE[0]}"
	exit
fi

# Inside the namespaces: a private /run for rpcbind's socket and lock.
ip link set lo up
mount -t tmpfs tmpfs /run
mkdir -p /run/rpcbind "$SCRATCH/statd/sm" "$SCRATCH/statd/sm.bak" "$SCRATCH/mountd"
: >"$SCRATCH/mountd/etab"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT

# A listener so the listing is not empty, on a port no RPC program uses.
python3 -c 'import socket,time; s=socket.socket(); s.bind(("127.0.0.1",8080)); s.listen(); time.sleep(3600)' &
pids+=($!)
sleep 0.3

# hf CMD... times the commands in one hyperfine run and prints a Markdown
# table of medians (the first command is the reference for the ratio).
hf() {
	hyperfine -N -w 3 -r "$RUNS" --style none --export-json "$SCRATCH/hf.json" "$@" >"$SCRATCH/hf.log" 2>&1 ||
		{ cat "$SCRATCH/hf.log" >&2; exit 1; }
	python3 - "$SCRATCH/hf.json" <<'PY'
import json, sys
rs = json.load(open(sys.argv[1]))["results"]
ref = rs[0]["median"]
print("| command | median ms | min-max ms | vs first |")
print("|---|---:|---:|---:|")
for r in rs:
    print(f"| `{r['command'].replace(sys.argv[1].rsplit('/', 1)[0] + '/', '')}` | {r['median']*1e3:.2f} | "
          f"{r['min']*1e3:.2f}-{r['max']*1e3:.2f} | {r['median']/ref:.2f} |")
PY
}

echo "### nothing on ports 111 and 135"
hf "$WB" "ss -tulnp"

rpcbind -f &
pids+=($!)
for _ in $(seq 50); do rpcinfo -p 127.0.0.1 >/dev/null 2>&1 && break; sleep 0.1; done
rpc.statd -F -L -P "$SCRATCH/statd" 2>/dev/null &
pids+=($!)
rpc.mountd -F -p 20048 -s "$SCRATCH/mountd" 2>/dev/null &
pids+=($!)
for _ in $(seq 50); do rpcinfo -p 127.0.0.1 2>/dev/null | grep -q ' 100005 ' && rpcinfo -p 127.0.0.1 | grep -q ' 100024 ' && break; sleep 0.1; done
sleep 0.5

echo
echo "### rpcbind, rpc.statd and rpc.mountd registered ($(rpcinfo -p 127.0.0.1 | tail -n +2 | wc -l) mappings)"
hf "$WB" "$WB 20048" "$WB rpc --onc" "ss -tulnp" "rpcinfo -p 127.0.0.1"
echo
echo "what whobinds 20048 said (the join at work):"
"$WB" 20048 | sed 's/^/    /'
