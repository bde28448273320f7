#!/bin/sh
# Regenerates the fixtures under nft/ and iptables/ from the rulesets under
# src/, with the real programs, each in a network namespace of its own.
# Needs root, nftables and iptables (legacy and nft backends).
# Usage: sudo sh testdata/capture.sh   (from the package directory)
set -eu
cd "$(dirname "$0")"
mkdir -p nft iptables
ns=wbfw-capture-$$
fresh() {
	ip netns del "$ns" 2>/dev/null || true
	ip netns add "$ns"
}
trap 'ip netns del "$ns" 2>/dev/null || true' EXIT
inns() { ip netns exec "$ns" "$@"; }
# Counters and set timeouts change from run to run; zero them.
tidy() { sed -E 's/"packets": [0-9]+, "bytes": [0-9]+/"packets": 0, "bytes": 0/g; s/"expires": [0-9]+/"expires": 0/g'; }
# The date in the save header and footer changes from run to run.
tidysave() { sed -E 's/ on [A-Z][a-z]{2} [A-Z][a-z]{2} .*$//'; }

for f in src/*.nft; do
	name=$(basename "$f" .nft)
	fresh
	inns nft -f "$f"
	inns nft -j list ruleset | tidy >"nft/$name.json"
done

for name in ufw docker raw-mangle; do
	fresh
	inns iptables-legacy-restore <"src/$name.rules"
	inns iptables-legacy-save | tidysave >"iptables/$name.legacy.save"
	fresh
	inns iptables-nft-restore <"src/$name.rules"
	inns iptables-nft-save | tidysave >"iptables/$name.nft.save"
	inns nft -j list ruleset | tidy >"nft/$name.iptables-nft.json"
done

fresh
inns ip6tables-legacy-restore <src/ufw6.rules
inns ip6tables-legacy-save | tidysave >iptables/ufw6.legacy.save
fresh
inns ip6tables-nft-restore <src/ufw6.rules
inns ip6tables-nft-save | tidysave >iptables/ufw6.nft.save
inns nft -j list ruleset | tidy >nft/ufw6.iptables-nft.json

