#!/usr/bin/env bash
# run.sh - time whobinds against ss, lsof, netstat and gopsutil on a busy host
# built by loadgen, and print a Markdown table for docs/performance.md.
#
# Usage: tools/bench/run.sh [options]     (see -h; run as root)
#
# Steps: check the tools; build whobinds and the bench tools; start loadgen
# for the scenario and wait for READY; one extra run of each command under
# GNU time (peak RSS, output lines, owner found); hyperfine once over all
# commands; paired A/B runs against the reference; the Markdown report on
# stdout (progress goes to stderr). loadgen is torn down on any exit.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/../.." && pwd)
COMMAND_LINE="tools/bench/run.sh $*"

scenario=small
runs=5
warmup=1
pairs=
paired_mode=all
peers_only=0
out=
lg_uid=
ready_timeout=900
ignore_failure=0

usage() {
	cat <<'EOF'
Usage: tools/bench/run.sh [options]

  -s, --scenario NAME   small (200 children x 20 fillers, 50 listeners, 500 conns),
                        big (2000 x 50, 500 listeners, 20000 conns), or
                        idle (no load: one loadgen child holding the target port)
                        [small]
  -r, --runs N          hyperfine counted runs per command [5]
  -w, --warmup N        hyperfine warm-up runs per command [1]
  -p, --pairs N         counted A/B pairs per paired comparison [same as --runs]
      --paired MODE     all: every command against its reference;
                        whobinds: only the whobinds commands; none [all]
      --peers-only      do not build or time whobinds (ss, lsof, netstat, gopsutil only)
      --uid N           run the loadgen children under uid N
  -i, --ignore-failure  do not stop when a timed command exits non-zero
  -o, --out DIR         where to keep the results [a new /tmp/whobinds-bench.* directory]
  -h, --help            this help

Needs root (to see every process's fds), Go, and: hyperfine, ss (iproute2),
lsof, netstat (net-tools), GNU time (/usr/bin/time).
EOF
}

while [ $# -gt 0 ]; do
	case $1 in
	-s | --scenario) scenario=$2; shift 2 ;;
	-r | --runs) runs=$2; shift 2 ;;
	-w | --warmup) warmup=$2; shift 2 ;;
	-p | --pairs) pairs=$2; shift 2 ;;
	--paired) paired_mode=$2; shift 2 ;;
	--peers-only) peers_only=1; shift ;;
	--uid) lg_uid=$2; shift 2 ;;
	-i | --ignore-failure) ignore_failure=1; shift ;;
	-o | --out) out=$2; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "run.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
	esac
done
pairs=${pairs:-$runs}

case $scenario in
small) lg_args=(-children 200 -fillers 20 -listeners 50 -conns 500) ;;
big) lg_args=(-children 2000 -fillers 50 -listeners 500 -conns 20000) ;;
idle) lg_args=(-children 1 -fillers 0 -listeners 1 -conns 0) ;;
*) echo "run.sh: unknown scenario $scenario (small, big, idle)" >&2; exit 2 ;;
esac
case $paired_mode in all | whobinds | none) ;; *) echo "run.sh: --paired must be all, whobinds or none" >&2; exit 2 ;; esac
[ -n "$lg_uid" ] && lg_args+=(-uid "$lg_uid")

log() { printf 'run.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# --- tools -------------------------------------------------------------------
[ "$(id -u)" = 0 ] || log "warning: not root; ss/lsof/netstat cannot see other users' fds and loadgen may fail"
command -v go >/dev/null || PATH=$PATH:/usr/local/go/bin
command -v go >/dev/null || die "go not found (looked in PATH and /usr/local/go/bin)"
missing=()
command -v hyperfine >/dev/null || missing+=(hyperfine)
command -v ss >/dev/null || missing+=(iproute2)
command -v lsof >/dev/null || missing+=(lsof)
command -v netstat >/dev/null || missing+=(net-tools)
[ -x /usr/bin/time ] && /usr/bin/time -f %M true 2>/dev/null || missing+=(time)
if [ ${#missing[@]} -gt 0 ]; then
	die "missing tools; install them with: apt-get install -y ${missing[*]}"
fi

# --- work space and clean-up -----------------------------------------------------
work=$(mktemp -d /tmp/whobinds-bench.XXXXXX)
chmod 755 "$work" # --uid children must reach the loadgen binary in $work/bin
bin=$work/bin
out=${out:-$work}
mkdir -p "$bin" "$out"
ready=$work/ready
lg_pid=

cleanup() {
	local rc=$?
	if [ -n "$lg_pid" ] && kill -0 "$lg_pid" 2>/dev/null; then
		log "stopping loadgen (pid $lg_pid)"
		kill -TERM "$lg_pid" 2>/dev/null || true
		for _ in $(seq 1 600); do kill -0 "$lg_pid" 2>/dev/null || break; sleep 0.1; done
		kill -0 "$lg_pid" 2>/dev/null && kill -KILL "$lg_pid" 2>/dev/null
		wait "$lg_pid" 2>/dev/null || true
	fi
	# The children die with loadgen (parent-death signal); make sure.
	if [ -n "${lg_pids:-}" ]; then
		local left=()
		local p state
		for p in $lg_pids; do
			[ "$(cat "/proc/$p/comm" 2>/dev/null)" = loadgen ] || continue
			state=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | cut -c1)
			[ -n "$state" ] && [ "$state" != Z ] && left+=("$p")
		done
		if [ ${#left[@]} -gt 0 ]; then
			log "killing ${#left[@]} leftover loadgen children"
			kill -KILL "${left[@]}" 2>/dev/null || true
		fi
	fi
	rm -rf "$bin"
	[ "$out" != "$work" ] && rm -rf "$work"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# --- build ---------------------------------------------------------------------
if [ "$peers_only" = 0 ]; then
	log "building whobinds"
	# Built as released: static, no cgo. With gcc installed, a plain go build
	# links libc (the net package asks for it), which costs about 1 ms at
	# every start on this VM.
	if ! (cd "$REPO" && CGO_ENABLED=0 go build -o "$bin/whobinds" ./cmd/whobinds) >"$out/build-whobinds.log" 2>&1; then
		cat "$out/build-whobinds.log" >&2
		die "whobinds does not build; rerun with --peers-only to time the peers alone"
	fi
fi
log "building loadgen, gopsutil-conns, paired, benchreport"
(cd "$BENCH_DIR" && go build -o "$bin/" ./cmd/loadgen ./cmd/gopsutil-conns ./cmd/paired ./cmd/benchreport) ||
	die "building the bench tools failed"

# --- scenario --------------------------------------------------------------------
# TIME-WAIT sockets of an earlier run would swell the socket table: wait for
# them to expire (60 s on Linux).
for _ in $(seq 1 80); do
	tw=$(ss -tanH state time-wait | wc -l)
	[ "$tw" -le 1000 ] && break
	log "waiting for $tw TIME-WAIT sockets to expire"
	sleep 5
done
log "starting loadgen ${lg_args[*]}"
start=$(date +%s.%N)
"$bin/loadgen" "${lg_args[@]}" -ready-file "$ready" -duration 3h >"$out/loadgen.log" 2>&1 &
lg_pid=$!
for _ in $(seq 1 $((ready_timeout * 10))); do
	[ -s "$ready" ] && break
	kill -0 "$lg_pid" 2>/dev/null || { cat "$out/loadgen.log" >&2; die "loadgen exited before READY"; }
	sleep 0.1
done
[ -s "$ready" ] || die "loadgen not READY within ${ready_timeout}s"
ready_after=$(echo "$(date +%s.%N) - $start" | bc)
ready_line=$(sed -n '/^READY /p' "$ready")
lg_pids=$(sed -n 's/^PIDS //p' "$ready")
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$ready_line"; }
PORT=$(field target_port)
PID=$(field target_pid)
if [ -z "$PORT" ] || [ -z "$PID" ]; then die "cannot read target_port/target_pid from: $ready_line"; fi
log "$ready_line"
log "READY after ${ready_after}s; target port $PORT held by pid $PID"

# Let the machine settle after the set-up burst.
sleep 2
# The load average still carries loadgen's set-up burst; once READY loadgen
# is idle, so a short /proc/stat sample shows what else keeps the CPUs busy.
cpu_busy() { # percent of CPU time not idle over 2 s
	local a b
	a=$(head -n 1 /proc/stat)
	sleep 2
	b=$(head -n 1 /proc/stat)
	awk -v a="$a" -v b="$b" 'BEGIN {
		# user nice system idle iowait irq softirq steal; guest is inside user
		n = split(a, x, " "); split(b, y, " ")
		for (i = 2; i <= n && i <= 9; i++) { d = y[i] - x[i]; t += d; if (i == 5 || i == 6) idle += d }
		printf "%.0f", (t > 0 ? 100 * (t - idle) / t : 0) }'
}
busy_before=$(cpu_busy)
if [ "$busy_before" -gt 15 ]; then
	log "warning: the CPUs are ${busy_before}% busy with other work before measuring: wall times will be inflated (the paired ratios suffer least)"
fi

# Processes come and go while we count: find may complain, the count stands.
n_procs=$(find /proc -maxdepth 1 -name '[0-9]*' 2>/dev/null | wc -l || true)
n_tasks=$(find /proc/[0-9]*/task -maxdepth 1 -mindepth 1 2>/dev/null | wc -l || true)
n_fds=$(cut -f1 /proc/sys/fs/file-nr)
n_tcp=$(ss -tanH | wc -l)
n_tw=$(ss -tanH state time-wait | wc -l)
n_udp=$(ss -uanH | wc -l)
n_unix=$(ss -xanH | wc -l)
lg_pss_kib=$(for p in "$lg_pid" $lg_pids; do cat "/proc/$p/smaps_rollup" 2>/dev/null; done | awk '/^Pss:/ {s += $2} END {print s + 0}')
log "scenario: $n_procs processes / $n_tasks tasks, $n_fds fds, $n_tcp TCP sockets ($n_tw TIME-WAIT), $n_udp UDP, $n_unix unix"

# --- commands --------------------------------------------------------------------
# names[i] is what the table shows; cmds[i] what runs (no shell: hyperfine -N,
# and paired splits words the same way). The reference comes first.
# A name containing PORT marks a single-port query (see "owner found").
names=() cmds=()
add() { names+=("$1"); cmds+=("$2"); }
REF='ss -tlnp'
add 'ss -tlnp' 'ss -tlnp'
if [ "$peers_only" = 0 ]; then
	add 'whobinds' "$bin/whobinds"
	add 'whobinds -t' "$bin/whobinds -t"
	add 'whobinds -t PORT' "$bin/whobinds -t $PORT"
fi
add 'ss -tulnp' 'ss -tulnp'
add "ss -tlnp 'sport = :PORT'" "ss -tlnp 'sport = :$PORT'"
add 'lsof -nP -iTCP -sTCP:LISTEN' 'lsof -nP -iTCP -sTCP:LISTEN'
add 'netstat -tlnp' 'netstat -tlnp'
add 'gopsutil Connections("tcp")' "$bin/gopsutil-conns -kind tcp"
add 'gopsutil ConnectionsWithoutUids("tcp")' "$bin/gopsutil-conns -kind tcp -without-uids"

cmd_of() { # name -> command
	local i
	for i in "${!names[@]}"; do [ "${names[$i]}" = "$1" ] && { printf '%s' "${cmds[$i]}"; return; }; done
}

# --- one extra run each: peak RSS, lines, owner found --------------------------------
# "owner found": some output line names both PORT and PID as whole numbers;
# for a single-port query (whose answer may span lines, like whobinds's
# narrative) it is enough that PID appears anywhere.
log "extra run of each command under /usr/bin/time"
: >"$out/extras.tsv"
for i in "${!names[@]}"; do
	rc=0
	eval "/usr/bin/time -f %M -o \"\$out/rss.$i\" ${cmds[$i]}" >"$out/output.$i.txt" 2>"$out/stderr.$i.txt" || rc=$?
	if [ "$rc" != 0 ] && [ "$ignore_failure" = 0 ]; then
		cat "$out/stderr.$i.txt" >&2
		die "'${names[$i]}' exited with status $rc (use -i to time it anyway)"
	fi
	rss=$(tail -n 1 "$out/rss.$i")
	[[ $rss =~ ^[0-9]+$ ]] || rss=-
	lines=$(wc -l <"$out/output.$i.txt")
	single=0
	[[ ${names[$i]} == *PORT* ]] && single=1
	if awk -v port="$PORT" -v pid="$PID" -v single="$single" '
		{ p = single; q = 0; n = split($0, f, /[^0-9]+/)
		  for (j = 1; j <= n; j++) { if (f[j] == port) p = 1; if (f[j] == pid) q = 1 }
		  if (p && q) { found = 1; exit } }
		END { exit !found }' "$out/output.$i.txt"; then
		owner=yes
	else
		owner=no
	fi
	printf '%s\t%s\t%s\t%s\n' "${names[$i]}" "$rss" "$lines" "$owner" >>"$out/extras.tsv"
	log "  ${names[$i]}: rss ${rss} KiB, $lines lines, owner found: $owner"
done

# --- hyperfine, once over all commands ------------------------------------------------
hf_args=(-N --style basic --warmup "$warmup" --runs "$runs" --output=null
	--export-json "$out/hyperfine.json" --export-markdown "$out/hyperfine.md")
[ "$ignore_failure" = 1 ] && hf_args+=(-i)
for i in "${!names[@]}"; do hf_args+=(-n "${names[$i]}" "${cmds[$i]}"); done
log "hyperfine: ${#names[@]} commands, warm-up $warmup, $runs runs"
hyperfine "${hf_args[@]}" >"$out/hyperfine.txt" 2>&1 || { cat "$out/hyperfine.txt" >&2; die "hyperfine failed"; }

# --- paired A/B ratios --------------------------------------------------------------
: >"$out/paired.spec"
pair() { printf '%s\t%s\t%s\t%s\n' "$1" "$(cmd_of "$1")" "$2" "$(cmd_of "$2")" >>"$out/paired.spec"; }
if [ "$paired_mode" != none ]; then
	if [ "$peers_only" = 0 ]; then
		pair 'whobinds' 'ss -tulnp'
		pair 'whobinds -t' 'ss -tlnp'
		pair 'whobinds -t PORT' "ss -tlnp 'sport = :PORT'"
	fi
	if [ "$paired_mode" = all ]; then
		for n in "${names[@]}"; do
			case $n in whobinds* | "$REF") ;; *) pair "$n" "$REF" ;; esac
		done
	fi
fi
paired_json=
if [ -s "$out/paired.spec" ]; then
	log "paired runs: warm-up 1, $pairs pairs each"
	"$bin/paired" -pairs "$pairs" -warmup 1 -json "$out/paired.json" "$out/paired.spec" >"$out/paired.txt" ||
		die "paired runs failed"
	cat "$out/paired.txt" >&2
	paired_json=$out/paired.json
fi

kill -0 "$lg_pid" 2>/dev/null || die "loadgen died during the measurements; the numbers are void"
busy_after=$(cpu_busy)

# --- report --------------------------------------------------------------------------
lsof_v=$(lsof -v 2>&1 | sed -n 's/^ *revision: *//p' | head -n 1)
gopsutil_v=$(cd "$BENCH_DIR" && go list -m -f '{{.Version}}' github.com/shirou/gopsutil/v4)
{
	echo "## Results: $scenario scenario ($n_procs processes, $n_fds open fds, $n_tcp TCP sockets)"
	echo
	echo "Produced by \`$COMMAND_LINE\` on $(date -u +%Y-%m-%d), $(nproc) CPUs,"
	echo "kernel $(uname -r). hyperfine $(hyperfine --version | cut -d' ' -f2): $warmup warm-up,"
	echo "$runs counted runs per command, no shell (\`-N\`), output to /dev/null."
	echo "PORT = $PORT, held by pid $PID (the middle loadgen child)."
	echo "CPU busy with other work in a 2 s sample before / after measuring: ${busy_before}% / ${busy_after}%."
	echo
	echo "| scenario | processes / tasks | open fds (file-nr) | TCP sockets (\`ss -tanH\`) | of which TIME-WAIT | UDP | unix | loadgen ready after | loadgen memory (Pss) |"
	echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
	# shellcheck disable=SC2016 # the backquotes are Markdown
	printf '| %s: `loadgen %s` | %s / %s | %s | %s | %s | %s | %s | %.1f s | %.0f MiB |\n' \
		"$scenario" "${lg_args[*]}" "$n_procs" "$n_tasks" "$n_fds" "$n_tcp" "$n_tw" "$n_udp" "$n_unix" \
		"$ready_after" "$(echo "$lg_pss_kib / 1024" | bc -l)"
	echo
	"$bin/benchreport" -hyperfine "$out/hyperfine.json" ${paired_json:+-paired "$paired_json"} \
		-extras "$out/extras.tsv" -ref "$REF"
	echo
	echo "- median wall, min-max: hyperfine. mean cpu: hyperfine's mean user + system."
	echo "- vs \`$REF\` (medians): this row's median over the reference's median."
	echo "- paired ratio: the command and its counterpart run alternately (A B A B ...), after 1 warm-up"
	echo "  pair; the median of the per-pair ratios. Steadier than the ratio of medians on a noisy machine."
	echo "- peak RSS: GNU time \`%M\` from one extra run; lines and owner found come from that run's output"
	echo "  (owner found: an output line names both PORT and its owner's pid; for single-port queries, the"
	echo "  output names the pid). lines: \`wc -l\` of that output, headers included."
	if [ "$peers_only" = 0 ]; then
		echo "- \`whobinds\` with no flag lists TCP **and UDP** listeners: its like-for-like peer is"
		echo "  \`ss -tulnp\` (paired); \`whobinds -t\` is the one to compare with \`ss -tlnp\`."
	else
		echo "- whobinds was not timed (\`--peers-only\`)."
	fi
	echo "- Versions: $(ss -V 2>&1 | head -n 1); lsof $lsof_v; $(netstat --version 2>&1 | head -n 1); gopsutil $gopsutil_v."
} | tee "$out/report.md"
log "results kept in $out"
