# Helpers for the integration tests: namespaces, portwatch and sockop in the
# background, JSON queries. Every test calls pw_teardown from teardown(), so
# processes and namespaces go away even when an assertion fails.

TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
PORTWATCH=${PORTWATCH:-$TOP/portwatch}
SOCKOP=${SOCKOP:-$TOP/build/sockop}
# PW_ATTACH=fentry|kprobe|tracepoint runs the suite on one forced rung.
PW_ATTACH_ARGS=()
[ -n "${PW_ATTACH:-}" ] && PW_ATTACH_ARGS=(--attach="$PW_ATTACH")

# A jq condition: a TCP port_alloc_fail came from the forced rung, if any.
tcp_rung() {
	if [ -n "${PW_ATTACH:-}" ]; then
		echo ".rung == \"$PW_ATTACH\""
	else
		echo true
	fi
}

PIDS=()
NETNS=()
CGROUPS=()

# Bounded wait for a line matching $2 in file $1 while process $3 lives.
wait_for_line() {
	local file=$1 pattern=$2 pid=${3:-} i
	for ((i = 0; i < 600; i++)); do
		grep -q -- "$pattern" "$file" 2>/dev/null && return 0
		if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
			grep -q -- "$pattern" "$file" 2>/dev/null && return 0
			echo "process $pid exited before '$pattern' appeared in $file:" >&2
			cat "$file" >&2
			return 1
		fi
		sleep 0.05
	done
	echo "timed out waiting for '$pattern' in $file" >&2
	return 1
}

# host_only: skip in a vmtest guest. For tests of what portwatch does in
# userspace alone (filters, text rendering, sorting), the same on every kernel
# and rung: the host runs them; under TCG they would cost minutes per guest.
host_only() {
	[ -z "${PW_GUEST:-}" ] || skip "userspace only, the same on every kernel and rung: run on the host"
}

# kfree_skb_format: the path of the kfree_skb tracepoint's format, the
# kernel's own list of its drop reasons (tracefs mounted if it is not).
kfree_skb_format() {
	local fmt=/sys/kernel/tracing/events/skb/kfree_skb/format
	[ -r "$fmt" ] || mount -t tracefs nodev /sys/kernel/tracing
	echo "$fmt"
}

# drop_reason NAME: the reason portwatch reports for a drop of reason NAME on
# this kernel: NAME where kfree_skb carries it, NOT_SPECIFIED on kernels that
# do not have it (drop reasons are 5.17+, NETFILTER_DROP 5.19+).
drop_reason() {
	if grep -q "\"$1\"" "$(kfree_skb_format)"; then
		echo "$1"
	else
		echo NOT_SPECIFIED
	fi
}

# The reason of a netfilter drop (an nftables rule's, conntrack's).
NF_DROP=$(drop_reason NETFILTER_DROP)

# need_drop_reasons: skip on kernels before 5.17, whose kfree_skb has no reason.
need_drop_reasons() {
	grep -q 'field:enum skb_drop_reason reason' "$(kfree_skb_format)" ||
		skip "drop reasons are 5.17+: this kernel's kfree_skb has none"
}

# setup_error WHAT: fails the test as a setup error: its precondition WHAT
# never came about, so nothing was tested.
setup_error() {
	echo "setup error: $*" >&2
	return 1
}

# wait_sockets NS N SS_FILTER...: waits (at most 30 s) until `ss -Htan
# SS_FILTER` lists N sockets in NS: loopback segments are processed in
# softirq, after the call that sent them returned.
wait_sockets() {
	local ns=$1 want=$2 n i
	shift 2
	for ((i = 0; i < 300; i++)); do
		n=$(ip netns exec "$ns" ss -Htan "$@" | wc -l)
		[ "$n" -eq "$want" ] && return 0
		sleep 0.1
	done
	setup_error "ss $* in $ns lists $n sockets, not $want; by state:" \
		"$(ip netns exec "$ns" ss -Htan | awk '{ print $1 }' | sort | uniq -c | tr '\n' ' ')" \
		"TcpExt: $(ip netns exec "$ns" nstat -az TcpExtTW TcpExtTCPTimeWaitOverflow TcpExtTWRecycled 2>/dev/null | awk 'NR > 1 { printf "%s %s ", $1, $2 }')"
}

# netns_new NAME: a namespace with lo up, named in $NS, removed by pw_teardown.
netns_new() {
	NS="pwt-$1-$$"
	ip netns add "$NS"
	NETNS+=("$NS")
	ip -n "$NS" link set lo up
}

netns_inode() {
	stat -L -c %i "/run/netns/$1"
}

# port_range NS LO HI
port_range() {
	ip netns exec "$1" sysctl -qw net.ipv4.ip_local_port_range="$2 $3"
}

# pw_start ARGS...: portwatch trace --json in the background until "Tracing".
pw_start() {
	pw_start_cmd trace "$@"
}

# pw_launch NAME COMMAND ARGS...: portwatch COMMAND --json in the background,
# output in $BATS_TEST_TMPDIR/NAME.out and .err, until it prints "Hit Ctrl-C";
# sets LAUNCHED_PID. PW_FORMAT=text leaves out --json (the text output).
pw_launch() {
	local out=$BATS_TEST_TMPDIR/$1.out err=$BATS_TEST_TMPDIR/$1.err cmd=$2 json=(--json)
	shift 2
	[ "${PW_FORMAT:-json}" = json ] || json=()
	# A previous run's "Hit Ctrl-C" must not be taken for this one's: the
	# shell truncates the file only once the background job runs.
	rm -f "$out" "$err"
	"$PORTWATCH" "$cmd" "${json[@]}" "${PW_ATTACH_ARGS[@]}" "$@" >"$out" 2>"$err" &
	LAUNCHED_PID=$!
	PIDS+=("$LAUNCHED_PID")
	wait_for_line "$err" "Hit Ctrl-C to end." "$LAUNCHED_PID"
}

# pw_start_cmd COMMAND ARGS...: the same as pw_start for any command.
pw_start_cmd() {
	PW_OUT=$BATS_TEST_TMPDIR/pw.out
	PW_ERR=$BATS_TEST_TMPDIR/pw.err
	pw_launch pw "$@"
	PW_PID=$LAUNCHED_PID
}

# pw_start_second COMMAND ARGS...: another portwatch next to the first one,
# output in $PW2_OUT, pid in $PW2_PID; stop it with pw_stop "$PW2_PID" "$PW2_ERR".
pw_start_second() {
	PW2_OUT=$BATS_TEST_TMPDIR/pw2.out
	PW2_ERR=$BATS_TEST_TMPDIR/pw2.err
	pw_launch pw2 "$@"
	PW2_PID=$LAUNCHED_PID
}

# pw_stop [PID ERR]: SIGINT; portwatch must exit within 30 s, with status 0.
pw_stop() {
	local pid=${1:-$PW_PID} err=${2:-$PW_ERR} rc=0 i
	kill -INT "$pid"
	for ((i = 0; i < 600; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "portwatch did not exit within 30 s of SIGINT; its stderr:" >&2
		cat "$err" >&2
		kill -KILL "$pid"
		return 1
	fi
	wait "$pid" || rc=$?
	if [ "$rc" -ne 0 ]; then
		echo "portwatch exited with $rc:" >&2
		cat "$err" >&2
		return 1
	fi
}

# natlab_up SCENARIO: tools/natlab's world under a prefix of this test run,
# removed by pw_teardown. natlab_run SCENARIO: its client; output in $LAB_OUT,
# natlab_value KEY reads a "KEY VALUE" line of it.
NATLAB=$TOP/tools/natlab
export NATLAB_PREFIX=pwt-lab-$$
natlab_up() {
	NATLAB_UP=1
	SOCKOP=$SOCKOP "$NATLAB" up "$1"
	# Drops are told apart by the NAT's netns: other labs may share its addresses.
	NAT_NETNS=$(netns_inode "$NATLAB_PREFIX-nat")
}

natlab_run() {
	LAB_OUT=$BATS_TEST_TMPDIR/natlab.out
	SOCKOP=$SOCKOP "$NATLAB" run "$1" >"$LAB_OUT"
	cat "$LAB_OUT"
}

natlab_value() {
	awk -v k="$1" '$1 == k { print $2; exit }' "$LAB_OUT"
}

# sockop NS ARGS...: run sockop to completion in NS; output in $SOCKOP_OUT.
sockop() {
	local ns=$1
	shift
	SOCKOP_OUT=$(mktemp "$BATS_TEST_TMPDIR/sockop.XXXXXX")
	ip netns exec "$ns" "$SOCKOP" "$@" >"$SOCKOP_OUT"
	SOCKOP_PID=$(awk '/^pid/ {print $2}' "$SOCKOP_OUT")
}

# sockop_hold NS ARGS...: run sockop with a final "hold" in the background.
sockop_hold() {
	local ns=$1
	shift
	SOCKOP_OUT=$(mktemp "$BATS_TEST_TMPDIR/sockop.XXXXXX")
	ip netns exec "$ns" "$SOCKOP" "$@" hold >"$SOCKOP_OUT" &
	PIDS+=("$!")
	wait_for_line "$SOCKOP_OUT" "^holding" "$!"
	SOCKOP_PID=$(awk '/^pid/ {print $2}' "$SOCKOP_OUT")
}

# sockop_gated NS ARGS...: sockop that waits for release before ARGS, then
# holds. Sets GATED_PID; its output is in $BATS_TEST_TMPDIR/gated.PID.
sockop_gated() {
	local ns=$1 out
	out=$(mktemp "$BATS_TEST_TMPDIR/gated.XXXXXX")
	shift
	ip netns exec "$ns" "$SOCKOP" wait "$@" hold >"$out" &
	GATED_PID=$!
	PIDS+=("$GATED_PID")
	wait_for_line "$out" "^waiting" "$GATED_PID"
	mv "$out" "$BATS_TEST_TMPDIR/gated.$GATED_PID"
}

# release PID: let a gated sockop run its steps, and wait until it holds.
release() {
	kill -USR1 "$1"
	wait_for_line "$BATS_TEST_TMPDIR/gated.$1" "^holding" "$1"
}

# cgroup_new NAME: a cgroup v2 directory $CG with a subdirectory child/,
# both removed by pw_teardown. The cgroup2 mount may be /sys/fs/cgroup or,
# on hybrid hosts, /sys/fs/cgroup/unified.
cgroup_new() {
	local root
	root=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
	[ -n "$root" ] || skip "no cgroup2 mount"
	CG=$root/pwt-$1-$$
	mkdir "$CG" "$CG/child"
	CGROUPS+=("$CG" "$CG/child")
}

# events JQ_FILTER: the number of event records (not the lost and
# drop_summary bookkeeping) selected by a jq condition.
events() {
	jq -s "[.[] | select(.type != \"lost\" and .type != \"drop_summary\") | select($1)] | length" "$PW_OUT"
}

# metric_sum NAME LABEL=VALUE... < SCRAPE: tools/scrape-sum, the sum of
# NAME's samples with those labels.
metric_sum() {
	"$TOP/tools/scrape-sum" "$@"
}

# scrape_until SCRAPE CHECK CMD...: bounded wait (20 s) until CHECK, a
# command that reads the file SCRAPE, succeeds on what CMD... printed into it
# (CMD fetches a URL: a scrape, /healthz); status 1, SCRAPE shown, if never.
scrape_until() {
	local scrape=$1 check=$2 i
	shift 2
	for ((i = 0; i < 200; i++)); do
		"$@" >"$scrape" 2>/dev/null && "$check" && return 0
		sleep 0.1
	done
	cat "$scrape"
	return 1
}

# veth_pair NS_A IF_A NS_B IF_B: a veth between two namespaces, IF_A with
# 192.0.2.1/24 in NS_A and IF_B with 192.0.2.2/24 in NS_B, both up.
veth_pair() {
	ip link add "$2" netns "$1" type veth peer name "$4" netns "$3"
	ip -n "$1" addr add 192.0.2.1/24 dev "$2"
	ip -n "$3" addr add 192.0.2.2/24 dev "$4"
	ip -n "$1" link set "$2" up
	ip -n "$3" link set "$4" up
}

# storm_up: two namespaces joined by a veth, $STORM_TX sending to
# 192.0.2.2:9999 and $STORM_RX dropping that on input, counted by the rule
# (storm_rule_count); $STORM_PACKETS datagrams, fewer under qemu's
# emulation (PW_STORM_PACKETS), where a packet costs ~50x more.
storm_up() {
	STORM_PACKETS=${PW_STORM_PACKETS:-2000000}
	netns_new stormtx
	STORM_TX=$NS
	netns_new stormrx
	STORM_RX=$NS
	veth_pair "$STORM_TX" pwstorm0 "$STORM_RX" pwstorm1
	ip netns exec "$STORM_RX" nft -f - <<-NFT
	table inet acl {
		chain in {
			type filter hook input priority 0;
			udp dport 9999 counter drop
		}
	}
	NFT
	# The neighbour entry first, so that every datagram leaves the sender.
	ip -n "$STORM_TX" neigh replace 192.0.2.2 lladdr \
		"$(ip -n "$STORM_RX" -j link show pwstorm1 | jq -r '.[0].address')" dev pwstorm0
}

storm_rule_count() {
	ip netns exec "$STORM_RX" nft -j list ruleset |
		jq '[.nftables[] | select(.rule) | .rule.expr[] | select(.counter) | .counter.packets] | add'
}

# bpf_ids PID prog|link: the ids of the BPF programs or links PID holds, from
# its descriptors' fdinfo (bpftool's pids need a bpftool built with skeletons,
# which Debian's is not). Programs reached through a link are in the list.
bpf_ids() {
	grep -h "^$2_id:" /proc/"$1"/fdinfo/* 2>/dev/null | awk '{ print $2 }' | sort -un
}

# wait_bpf_gone prog|link IDS: bounded wait (30 s) until no BPF object of the
# kind has one of IDS: the kernel frees them after the last reference goes,
# asynchronously.
wait_bpf_gone() {
	local kind=$1 ids=$2 left i
	for ((i = 0; i < 300; i++)); do
		left=$(bpftool "$kind" show -j | jq -r '.[].id' | grep -Fx -f <(echo "$ids") || true)
		[ -z "$left" ] && return 0
		sleep 0.1
	done
	echo "$kind ids still there after 30 s: $(echo $left)" >&2
	return 1
}

# held_back FILE JQ_CONDITION FIELD: the sum of FIELD (count, records,
# filtered or sampled) over the keys of trace's drop_summary records in FILE
# that match the condition.
held_back() {
	jq -s "[.[] | select(.type == \"drop_summary\") | .keys[] | select($2) | .$3] | add // 0" "$1"
}

pw_teardown() {
	local pid ns i
	[ -z "${TMUX_SESSION:-}" ] || tmux kill-session -t "$TMUX_SESSION" 2>/dev/null || true
	for pid in "${PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	for ns in "${NETNS[@]}"; do
		ip netns del "$ns" 2>/dev/null || true
	done
	[ -z "${NATLAB_UP:-}" ] || "$NATLAB" down || true
	for ((i = ${#CGROUPS[@]} - 1; i >= 0; i--)); do
		rmdir "${CGROUPS[i]}" 2>/dev/null || true
	done
}

# exhausted_ns NAME: a namespace $NS (inode $INO) with the range 40000-40001,
# both ports held toward 127.0.0.1:8080 and [::1]:8081, whose listeners are
# held too: further connects there fail with EADDRNOTAVAIL.
exhausted_ns() {
	netns_new "$1"
	INO=$(netns_inode "$NS")
	port_range "$NS" 40000 40001
	sockop_hold "$NS" listen 127.0.0.1 8080 listen ::1 8081 \
		connect 127.0.0.1 8080 2 connect ::1 8081 2
}

# drop_syns NS PORT: an nftables rule in NS that drops SYNs toward PORT.
drop_syns() {
	ip netns exec "$1" nft -f - <<-NFT
	table inet pwtest {
		chain out {
			type filter hook output priority 0;
			tcp dport $2 tcp flags syn counter drop
		}
	}
	NFT
}

# syns_dropped NS: packets the drop_syns rule counted.
syns_dropped() {
	ip netns exec "$1" nft -j list chain inet pwtest out |
		jq '[.nftables[] | select(.rule) | .rule.expr[] | select(.counter) | .counter.packets] | add'
}
