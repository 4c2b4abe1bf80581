#!/usr/bin/env bats
# The command line: JSON output, filters, bad input, stopping, probes, losses.

load lib
bats_require_minimum_version 1.5.0

teardown() {
	pw_teardown
}

# filtered_run 'OPTIONS': A fails toward 127.0.0.1:8080 from the child cgroup
# of $CG, B toward [::1]:8081 from its own; OPTIONS may name $A and $B.
filtered_run() {
	sockop_gated "$NS" connect 127.0.0.1 8080 1
	A=$GATED_PID
	sockop_gated "$NS" connect ::1 8081 1
	B=$GATED_PID
	echo "$A" >"$CG/child/cgroup.procs"
	eval "pw_start --netns $INO $1"
	release "$A"
	release "$B"
	pw_stop
	echo "filtered_run '$1': A=$A B=$B"
	cat "$PW_OUT"
}

@test "--json: every line is one JSON object with the documented fields" {
	exhausted_ns json
	cgroup_new json
	filtered_run ""

	[ "$(wc -l <"$PW_OUT")" -eq 2 ]
	while read -r line; do
		jq -e 'type == "object"' <<<"$line" >/dev/null
	done <"$PW_OUT"
	keys='["cgroup_id","comm","container","container_id","daddr","dport","errno","error","family","k8s_namespace","netns","op","pid","pod","port_range","proto","rung","runtime","saddr","sport","tid","ts","type","unit"]'
	[ "$(jq -s --argjson k "$keys" '[.[] | keys == $k] | all' "$PW_OUT")" = true ]
	[ "$(jq -s '[.[] | .ts | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\\.[0-9]{6}Z$")] | all' "$PW_OUT")" = true ]
	[ "$(events ".pid == $A and .cgroup_id == $(stat -c %i "$CG/child")")" -eq 1 ]
}

@test "filters keep and drop the right events" {
	host_only
	exhausted_ns filt
	cgroup_new filt

	filtered_run ""
	[ "$(events true)" -eq 2 ]
	filtered_run '-p $A'
	[ "$(events true)" -eq 1 ]
	[ "$(events ".pid == $A")" -eq 1 ]
	filtered_run '--pid $B'
	[ "$(events true)" -eq 1 ]
	[ "$(events ".pid == $B")" -eq 1 ]
	filtered_run '--comm sockop'
	[ "$(events true)" -eq 2 ]
	filtered_run '--comm curl'
	[ "$(events true)" -eq 0 ]
	filtered_run '--dport 8081'
	[ "$(events true)" -eq 1 ]
	[ "$(events ".pid == $B")" -eq 1 ]
	filtered_run '--daddr 127.0.0.1'
	[ "$(events true)" -eq 1 ]
	[ "$(events ".pid == $A")" -eq 1 ]
	filtered_run '--daddr ::1'
	[ "$(events true)" -eq 1 ]
	[ "$(events ".pid == $B")" -eq 1 ]
	filtered_run '--cgroup $CG'
	[ "$(events true)" -eq 1 ]
	[ "$(events ".pid == $A")" -eq 1 ]
	filtered_run '--cgroup $CG/child --dport 8081'
	[ "$(events true)" -eq 0 ]

	# --netns by file, here the root netns: this namespace's failures are left out.
	filtered_run '--netns /proc/self/ns/net'
	[ "$(events true)" -eq 0 ]
}

@test "--cgroup reads the cgroup tree at start, not again for each event of another cgroup" {
	host_only
	exhausted_ns cgscan
	cgroup_new cgscan
	pw_start --netns "$INO" --cgroup "$CG"
	# Directory reads (getdents64) of the attached portwatch from now on.
	out=$BATS_TEST_TMPDIR/strace
	strace -f -p "$PW_PID" -e trace=getdents64 -o "$out" 2>"$BATS_TEST_TMPDIR/strace.err" &
	tracer=$!
	PIDS+=("$tracer")
	wait_for_line "$BATS_TEST_TMPDIR/strace.err" "attached" "$tracer"
	# 50 failures of a process outside $CG (in the namespace the filter keeps).
	sockop "$NS" connect 127.0.0.1 8080 50
	[ "$(grep -c 'err 99' "$SOCKOP_OUT")" -eq 50 ] || setup_error "sockop did not fail 50 connects"
	pw_stop
	wait "$tracer" || true
	cat "$out"
	[ "$(grep -c 'getdents64(' "$out")" -eq 0 ]
	[ "$(events true)" -eq 0 ]
}

# bad_input ARGS...: exit status 2 and one line on stderr naming the problem.
bad_input() {
	local want=$1
	shift
	run "$PORTWATCH" "$@"
	echo "status $status: $output"
	[ "$status" -eq 2 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "${lines[0]}" == portwatch* ]]
	[[ "${lines[0]}" == *"$want"* ]]
}

@test "bad options and filters: one line naming the problem, exit status 2" {
	bad_input "--pid 'abc'" trace --pid abc
	bad_input "--pid '0'" trace -p 0
	bad_input "--dport '70000'" trace --dport 70000
	bad_input "--daddr '300.1.1.1'" trace --daddr 300.1.1.1
	bad_input "--comm" trace --comm waytoolongcommandname
	bad_input "--netns '/nonexistent': No such file" trace --netns /nonexistent
	bad_input "--netns '/etc/passwd': not a namespace file" trace --netns /etc/passwd
	bad_input "--cgroup '/nonexistent'" trace --cgroup /nonexistent
	bad_input "--cgroup '/tmp'" trace --cgroup /tmp
	bad_input "invalid --duration '0': whole seconds, 1 to" trace -d 0
	bad_input "--attach 'ebpf'" trace --attach=ebpf
	bad_input "--owner-map-size '10'" trace --owner-map-size 10
	bad_input "--ringbuf-size '5000'" trace --ringbuf-size 5000
	bad_input "unexpected argument 'extra'" trace extra
	bad_input "unknown command 'bogus'" bogus
	bad_input "unexpected argument 'x'" probes x
}

@test "an unknown option is named on the first line and exits 2" {
	run "$PORTWATCH" trace --nosuch
	[ "$status" -eq 2 ]
	[[ "${lines[0]}" == *"--nosuch"* ]]
}

# ladder_consistent: probes' $output has the 8 hooks, each with its chosen
# rung "none" or one whose own line says ok.
ladder_consistent() {
	awk '/^[a-z_0-9]+: / { hook = $1; n++ }
	     /^  chosen/ { chosen[hook] = $2 }
	     /^  [a-z-]+ +ok:/ { ok[hook, $1] = 1 }
	     END { for (h in chosen) if (chosen[h] != "none" && !((h, chosen[h]) in ok)) {
	               print h ": chosen " chosen[h] ", which did not say ok"; bad = 1 }
	           if (n != 8) { print n " hooks"; bad = 1 }
	           exit bad }' <<<"$output"
}

# run_split ARGS...: run with stdout and stderr apart ($output, $stderr),
# within 120 s: a command that should fail at once must not hang the test.
run_split() {
	run --separate-stderr timeout 120 "$@"
	echo "status $status; stdout: $output; stderr: $stderr"
}

ROOT_LINE="portwatch: must run as root: loading BPF programs needs CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN"
BTF_LINE="portwatch: kernel BTF not found (/sys/kernel/btf/vmlinux): portwatch needs CONFIG_DEBUG_INFO_BTF=y"

@test "not root: every command says so in one line on stderr, non-zero" {
	# check exits 2 when it could not run; the others 1.
	for c in trace:1 ports:1 check:2 top:1 serve:1 drops:1 latency:1; do
		run_split setpriv --reuid=nobody --regid=nogroup --clear-groups "$PORTWATCH" "${c%:*}"
		[ "$status" -eq "${c#*:}" ]
		[ "$output" = "" ]
		[ "$stderr" = "$ROOT_LINE" ]
	done
	run_split setpriv --reuid=nobody --regid=nogroup --clear-groups "$PORTWATCH" probes
	[ "$status" -eq 1 ]
	[ "$output" = "" ]
	[ "$stderr" = "portwatch: must run as root: probing loads BPF programs" ]
	# Listing the drop reasons reads the kernel's BTF only: no root needed.
	# Before 5.17 the kernel has none, and says so in one line either way.
	run_split "$PORTWATCH" drops --reasons
	root_status=$status root_output=$output root_stderr=$stderr
	run_split setpriv --reuid=nobody --regid=nogroup --clear-groups "$PORTWATCH" drops --reasons
	[ "$status" -eq "$root_status" ]
	[ "$stderr" = "$root_stderr" ]
	[ "$output" = "$root_output" ]
	if grep -q 'field:enum skb_drop_reason reason' "$(kfree_skb_format)"; then
		[ "$status" -eq 0 ]
		[ "$stderr" = "" ]
		[ "$(grep -c " $NF_DROP\$" <<<"$output")" -eq 1 ]
	else
		[ "$status" -eq 1 ]
		[ "$output" = "" ]
		[ "$stderr" = "portwatch: this kernel has no enum skb_drop_reason (before 5.17)" ]
	fi
}

# no_btf ARGS...: run_split ARGS in a mount namespace without the kernel's
# BTF: /sys/kernel/btf hidden, and the files libbpf would try instead.
no_btf() {
	# shellcheck disable=SC2016
	run_split unshare -m sh -c 'for d in /sys/kernel/btf /boot /usr/lib/debug "/lib/modules/$(uname -r)"; do
		[ ! -d "$d" ] || mount -t tmpfs none "$d" || exit 99; done; exec "$@"' sh "$@"
}

@test "no kernel BTF: every command says so in one line on stderr, non-zero" {
	for c in trace:1 ports:1 check:2 top:1 serve:1 drops:1 latency:1; do
		no_btf "$PORTWATCH" "${c%:*}"
		[ "$status" -eq "${c#*:}" ]
		[ "$output" = "" ]
		[ "$stderr" = "$BTF_LINE" ]
	done
	no_btf "$PORTWATCH" drops --reasons
	[ "$status" -eq 1 ]
	[ "$output" = "" ]
	[ "$stderr" = "$BTF_LINE" ]
	# probes shows the ladder all the same: the hooks that need BTF have no
	# rung (the first of them is named: tcp_v4_connect where kprobes are
	# refused too, else inet_sock_set_state), and every hook was probed, its
	# chosen rung one that said ok.
	no_btf "$PORTWATCH" probes
	[ "$status" -eq 1 ]
	first=$(awk '/^[a-z_0-9]+: / { hook = $1 } /^  chosen +none$/ { sub(":", "", hook); print hook; exit }' <<<"$output")
	[ "$stderr" = "portwatch: $first: no rung can attach (tracepoint: not in kernel BTF: No such process (ESRCH))" ]
	ladder_consistent
	[ "$(grep -A1 '^inet_sock_set_state: ' <<<"$output" | tail -1)" = "  chosen      none" ]
}

@test "-d stops by itself and SIGTERM detaches cleanly, both with status 0" {
	run timeout 60 "$PORTWATCH" trace -d 1
	[ "$status" -eq 0 ]
	[[ "$output" == *"Tracing "*"Hit Ctrl-C to end."* ]]

	pw_start --drops=none
	# This portwatch's programs, by their full names.
	for id in $(bpf_ids "$PW_PID" prog); do
		echo "$id $(bpftool prog show id "$id" -j | jq -r .name)"
	done >"$BATS_TEST_TMPDIR/progs"
	cat "$BATS_TEST_TMPDIR/progs"
	grep -q ' tp_inet_sock_set_state$' "$BATS_TEST_TMPDIR/progs"
	# trace --drops=none leaves out the hooks of drops and latency, and the
	# tcp_connect programs (sockops on the tracepoint rung) that serve drops.
	[ "$(grep -c ' tpc\?_kfree_skb$\| [a-z]*___inet_hash_connect$\| sockops_flows$\| [a-z]*_tcp_connect$' "$BATS_TEST_TMPDIR/progs")" -eq 0 ]
	kill -TERM "$PW_PID"
	wait "$PW_PID"
	# Nothing stays loaded: the kernel frees the programs (asynchronously).
	wait_bpf_gone prog "$(awk '{ print $1 }' "$BATS_TEST_TMPDIR/progs")"
}

@test "--help lists the options and ends with examples" {
	run "$PORTWATCH" trace --help
	[ "$status" -eq 0 ]
	for opt in --pid --comm --netns --cgroup --dport --daddr --json --duration --attach; do
		[[ "$output" == *"$opt"* ]]
	done
	[[ "$output" == *"--verbose"*"EXAMPLES:"*"portwatch trace --json"* ]]
}

@test "probes: each hook gets the first rung that works" {
	run "$PORTWATCH" probes
	[ "$status" -eq 0 ]
	# Per hook: the chosen rung is the first line that says ok.
	awk '/^[a-z_0-9]+: / { hook = $1 }
	     /^  chosen/ { chosen[hook] = $2; n++ }
	     /^  [a-z]+ +ok:/ && !(hook in first) { first[hook] = $1 }
	     END { for (h in chosen) if (chosen[h] != first[h]) { print h, chosen[h], first[h]; exit 1 }
	           if (n != 8) { print n " hooks chosen"; exit 1 } }' <<<"$output"
}

@test "a forced rung the kernel refuses: one line saying why, non-zero" {
	probes=$("$PORTWATCH" probes)
	refused=$(awk '/^  (fentry|kprobe) +refused/ { print $1 }' <<<"$probes" | sort -u)
	[ -n "$refused" ] || skip "every rung works on this kernel"
	for rung in $refused; do
		run "$PORTWATCH" trace --attach="$rung" -d 1
		[ "$status" -ne 0 ]
		[ "${#lines[@]}" -eq 1 ]
		[[ "${lines[0]}" == "portwatch: --attach=$rung: "*" refused: "* ]]
	done
}

@test "records the ring buffer cannot take are counted: reported + lost == failures" {
	exhausted_ns lost
	pw_start --netns "$INO" --ringbuf-size 4096
	kill -STOP "$PW_PID"
	sockop "$NS" connect 127.0.0.1 8080 300
	kill -CONT "$PW_PID"
	pw_stop

	failed=$(grep -c 'err 99' "$SOCKOP_OUT")
	[ "$failed" -eq 300 ]
	reported=$(events '.type == "port_alloc_fail"')
	lost=$(jq -s '[.[] | select(.type == "lost") | .records] | add' "$PW_OUT")
	echo "reported $reported lost $lost"
	[ "$lost" -gt 0 ]
	[ $((reported + lost)) -eq 300 ]
}

# evictions_after NS STEP PORTWATCH_ARGS...: trace with 1024-entry owner maps
# while sockop runs STEP 3000 times (3000 sockets) in NS; sets EVICTED.
evictions_after() {
	local ns=$1 step=$2 steps
	shift 2
	pw_start --netns "$(netns_inode "$ns")" --owner-map-size 1024 "$@"
	steps=$(for i in $(seq 3000); do echo "$step"; done)
	ulimit -n 8192
	# shellcheck disable=SC2086
	sockop "$ns" udp $steps
	[ "$(grep -c ' ok ' "$SOCKOP_OUT")" -eq 3000 ]
	pw_stop
	EVICTED=$(jq -s '[.[] | select(.type == "lost") | .owner_evictions] | add' "$PW_OUT")
	echo "evicted $EVICTED"
}

@test "owner-map evictions are counted" {
	netns_new evict
	evictions_after "$NS" "bind 0.0.0.0 0"
	# 3000 owners entered a 1024-entry map; others' inserts never lower that.
	[ "$EVICTED" -ge $((3000 - 1024)) ]
}

@test "a released UDP socket's owner leaves the map: 3000 sockets, 500 open at most, no eviction" {
	netns_new udprel
	pw_start --netns "$(netns_inode "$NS")" --owner-map-size 1024 --drops=none
	# At most 500 live: an LRU map evicts before it is full when its global
	# free list runs low (it keeps up to 128 free nodes per CPU aside), so
	# 900 live entries of 1024 sometimes saw evictions on 2 CPUs.
	sockop "$NS" udp $(for i in 1 2 3 4 5 6; do echo bindn 127.0.0.1 0 500 close; done)
	[ "$(grep -c 'bound 500 failed 0' "$SOCKOP_OUT")" -eq 6 ] || setup_error "sockop did not bind 6 x 500"
	pw_stop
	[ "$(jq -s '[.[] | select(.type == "lost") | .owner_evictions] | add // 0' "$PW_OUT")" -eq 0 ]
}

@test "flow-owner evictions are counted with the socket owners'" {
	netns_new flowevict
	ip netns exec "$NS" nft add table inet t
	# On input: a drop on output would fail the send, and only sends that
	# succeed record their flow.
	ip netns exec "$NS" nft add chain inet t in '{ type filter hook input priority 0; }'
	ip netns exec "$NS" nft add rule inet t in udp dport 9 drop
	# Each socket is autobound by one datagram: 3000 socket owners and 3000 flows.
	evictions_after "$NS" "sendto 127.0.0.1 9" --drops=attributed
	# Each 1024-entry map had 3000 new keys: both maps' evictions are in the sum.
	[ "$EVICTED" -ge $((2 * (3000 - 1024))) ]
}

@test "100,000 sockets from 6 processes: trace seeds them all, evicts none, attributes one" {
	netns_new many
	ino=$(netns_inode "$NS")
	drop_syns "$NS" 9999
	# More sockets than the old fixed 65536-entry owner maps: 6 x 17000 UDP
	# sockets, each process on its own address (a UDP port range is per address).
	ulimit -n 20000
	for k in 1 2 3 4 5 6; do
		sockop_hold "$NS" udp bindn "127.0.0.$k" 0 17000
		grep -q "bindn 127.0.0.$k 0 bound 17000 failed 0" "$SOCKOP_OUT" ||
			setup_error "process $k: $(grep bindn "$SOCKOP_OUT")"
	done
	sockop_hold "$NS" nbconnect 127.0.0.1 9999
	owner=$SOCKOP_PID
	[ "$(ip netns exec "$NS" ss -Huan | wc -l)" -eq 102000 ] || setup_error "the netns does not hold 102000 UDP sockets"
	pw_start --netns "$ino"
	seeded=$(sed -n 's/.*(\([0-9]*\) existing sockets attributed).*/\1/p' "$PW_ERR")
	echo "seeded $seeded"
	[ "$seeded" -ge 102001 ]
	ip netns exec "$NS" ss -K -t dst 127.0.0.1 dport = 9999 >/dev/null
	pw_stop

	[ "$(jq -s '[.[] | select(.type == "lost") | .owner_evictions] | add // 0' "$PW_OUT")" -eq 0 ]
	[ "$(events ".type == \"connect_fail\" and .pid == $owner and .error == \"ECONNABORTED\"
		and .owner == \"seeded\" and .dport == 9999")" -eq 1 ]
}

@test "top in an 80x24 terminal (tmux): a row for the process failing connects; q exits cleanly" {
	command -v tmux >/dev/null || skip "no tmux"
	netns_new top
	port_range "$NS" 20000 20009
	sockop_hold "$NS" listen 127.0.0.1 9000
	sockop_gated "$NS" connect 127.0.0.1 9000 15
	client=$GATED_PID
	TMUX_SESSION=pwt-top-$$
	screen=$BATS_TEST_TMPDIR/screen
	tmux new-session -d -s "$TMUX_SESSION" -x 80 -y 24 \
		"$PORTWATCH top -i 1 --pid $client; echo \$? >$BATS_TEST_TMPDIR/top.rc"
	# Attached once its first screen is drawn; then the client runs.
	for ((i = 0; i < 300; i++)); do
		tmux capture-pane -p -t "$TMUX_SESSION" >"$screen"
		grep -q '^PID ' "$screen" && break
		sleep 0.1
	done
	release "$client"
	[ "$(grep -c ' err 99 EADDRNOTAVAIL' "$BATS_TEST_TMPDIR/gated.$client")" -eq 5 ]
	# Its row: 5 failures since top started, the 10 ports of the range, 100% full.
	for ((i = 0; i < 300; i++)); do
		tmux capture-pane -p -t "$TMUX_SESSION" >"$screen"
		row=$(grep "^$client " "$screen" || true)
		[ "$(awk '{ print $5, $7, $8, $9 }' <<<"$row")" = "5 10 100.0 127.0.0.1:9000" ] && break
		sleep 0.1
	done
	cat "$screen"
	[ "$(awk '{ print $2, $5, $7, $8, $9 }' <<<"$row")" = "sockop 5 10 100.0 127.0.0.1:9000" ]
	tmux send-keys -t "$TMUX_SESSION" q
	for ((i = 0; i < 300; i++)); do
		[ -s "$BATS_TEST_TMPDIR/top.rc" ] && break
		sleep 0.1
	done
	[ "$(cat "$BATS_TEST_TMPDIR/top.rc")" -eq 0 ]
}

@test "top without a terminal prints interval snapshots" {
	netns_new toppipe
	port_range "$NS" 20000 20009
	sockop_hold "$NS" listen 127.0.0.1 9000 connect 127.0.0.1 9000 4
	client=$SOCKOP_PID
	out=$BATS_TEST_TMPDIR/top.out
	"$PORTWATCH" top -i 1 --pid "$client" >"$out" 2>"$BATS_TEST_TMPDIR/top.err" &
	PIDS+=("$!")
	top=$!
	wait_for_line "$out" "^$client " "$top"
	kill -INT "$top"
	wait "$top"
	[ "$(grep "^$client " "$out" | head -1 | awk '{ print $2, $7, $8 }')" = "sockop 4 40.0" ]
	grep -q '^--- ' "$out"
	# Laid out for 80 columns (IPv4 destinations), so logs read well in a terminal.
	[ "$(awk 'length > 80' "$out" | wc -l)" -eq 0 ]
}

@test "top names the owner of TIME_WAIT ports it saw close (ports alone cannot)" {
	netns_new toptw
	ino=$(netns_inode "$NS")
	port_range "$NS" 20000 20009
	# 5 connections closed by the client first: 5 client sockets in TIME_WAIT.
	sockop_gated "$NS" listen 127.0.0.1 9000 connect 127.0.0.1 9000 5 accept 5 close
	client=$GATED_PID
	out=$BATS_TEST_TMPDIR/top.out
	"$PORTWATCH" top -i 1 --pid "$client" >"$out" 2>"$BATS_TEST_TMPDIR/top.err" &
	PIDS+=("$!")
	top=$!
	wait_for_line "$BATS_TEST_TMPDIR/top.err" "Hit Ctrl-C" "$top"
	release "$client"
	wait_sockets "$NS" 5 state time-wait
	wait_for_line "$out" "^$client .* 5  50.0 127.0.0.1:9000" "$top"
	kill -INT "$top"
	wait "$top"
	# A snapshot of its own has no history: the same ports are unowned there.
	"$PORTWATCH" ports --json --netns "$ino" >"$BATS_TEST_TMPDIR/ports.out"
	[ "$(jq -s '[.[] | select(.type == "port" and .dport == 9000)][0] | [.pid, .time_wait] | tostring' \
		"$BATS_TEST_TMPDIR/ports.out")" = '"[null,5]"' ]
}

@test "probes --attach=RUNG the kernel refuses: every hook is still probed, one line why" {
	probes=$("$PORTWATCH" probes)
	refused=$(awk '/^tcp_v4_connect: / { on = 1; next } /^[a-z_0-9]+: / { on = 0 }
		on && /^  (fentry|kprobe) +refused/ { print $1 }' <<<"$probes")
	[ -n "$refused" ] || skip "every rung works on this kernel"
	for rung in $refused; do
		run_split "$PORTWATCH" probes --attach="$rung"
		[ "$status" -eq 1 ]
		[[ "$stderr" == "portwatch: --attach=$rung: tcp_v4_connect: "*" refused: "* ]]
		[ "${#stderr_lines[@]}" -eq 1 ]
		ladder_consistent
		[ "$(grep -A1 '^tcp_v4_connect: ' <<<"$output" | tail -1)" = "  chosen      none" ]
	done
}

@test "no arguments: usage on stderr, exit 2; --help: the 8 commands, exit 0; --version" {
	run_split "$PORTWATCH"
	[ "$status" -eq 2 ]
	[ "$output" = "" ]
	[ "${stderr_lines[0]}" = "Usage: portwatch COMMAND [OPTION...]" ]
	usage=$stderr
	run_split "$PORTWATCH" --help
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$output" = "$usage" ]
	# The command lines, between "Commands:" and the blank line.
	[ "$(awk '/^Commands:$/ { on = 1; next } on && /^$/ { exit } on { print $1 }' <<<"$output" |
		tr '\n' ' ')" = "trace ports check top serve drops latency probes " ]
	[ "${lines[${#lines[@]} - 1]}" = '`portwatch COMMAND --help` shows a command'"'"'s options and examples.' ]
	run_split "$PORTWATCH" --version
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" =~ ^portwatch\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
	# An unknown command names them all too.
	run_split "$PORTWATCH" bogus
	[ "$status" -eq 2 ]
	[ "$stderr" = "portwatch: unknown command 'bogus' (commands: trace, ports, check, top, serve, drops, latency, probes)" ]
}

# top_world: in a namespace with 10 ports toward 127.0.0.1:9000 and :9001, H
# holds 7 toward 9001; gated A (comm sockop) will fail 5 of 8 connects to 9001
# and hold 3, gated B (comm sockpeer) fail 2 of 12 to 9000 and hold 10.
top_world() {
	netns_new "$1"
	port_range "$NS" 20000 20009
	sockop_hold "$NS" listen 127.0.0.1 9000 listen 127.0.0.1 9001 connect 127.0.0.1 9001 7
	H=$SOCKOP_PID
	sockop_gated "$NS" connect 127.0.0.1 9001 8
	A=$GATED_PID
	[ -e "$BATS_TEST_TMPDIR/sockpeer" ] || cp "$SOCKOP" "$BATS_TEST_TMPDIR/sockpeer"
	SOCKOP=$BATS_TEST_TMPDIR/sockpeer sockop_gated "$NS" connect 127.0.0.1 9000 12
	B=$GATED_PID
}

# top_released: checks what A and B did once released.
top_released() {
	release "$A"
	release "$B"
	[ "$(grep -c ' err 99 EADDRNOTAVAIL' "$BATS_TEST_TMPDIR/gated.$A")" -eq 5 ]
	[ "$(grep -c ' err 99 EADDRNOTAVAIL' "$BATS_TEST_TMPDIR/gated.$B")" -eq 2 ]
}

# top_start NAME ARGS...: top -i 1 ARGS into a pipe ($BATS_TEST_TMPDIR/NAME.out).
declare -gA TOPS
top_start() {
	local name=$1
	shift
	"$PORTWATCH" top -i 1 "$@" >"$BATS_TEST_TMPDIR/$name.out" 2>"$BATS_TEST_TMPDIR/$name.err" &
	TOPS[$name]=$!
	PIDS+=("$!")
	wait_for_line "$BATS_TEST_TMPDIR/$name.err" "Hit Ctrl-C" "$!"
}

# top_rows NAME PID FAILS PORTS: stops top NAME once PID's row shows FAILS
# and PORTS and no failure in its interval, and prints that snapshot's
# process rows (pid comm FAILS PORTS). B runs after A, so then every failure
# of both is in.
top_rows() {
	local out=$BATS_TEST_TMPDIR/$1.out top=${TOPS[$1]} pid=$2 fails=$3 ports=$4
	wait_for_line "$out" "^$pid  *[a-z]*  *[0-9]*  *0  *$fails  *[0-9]*  *$ports " "$top"
	kill -INT "$top"
	wait "$top"
	awk -v p="$pid" -v f="$fails" -v n="$ports" '
		/^--- / { block = ""; ready = rows = 0; next }
		/^PID / { rows = 1; next }
		rows && /^$/ { rows = 0; if (ready) { printf "%s", block; exit } next }
		rows { if ($1 == p && $4 == 0 && $5 == f && $7 == n) ready = 1
		       block = block $1 " " $2 " " $5 " " $7 "\n" }' "$out"
}

# ours: the rows of A, B and H, in their order, names for pids.
ours() {
	awk -v a="$A" -v b="$B" -v h="$H" '$1 == a { print "A", $2, $3, $4 }
		$1 == b { print "B", $2, $3, $4 } $1 == h { print "H", $2, $3, $4 }' <<<"$1"
}

@test "top --sort fails / ports orders the rows so; --comm keeps only that command's" {
	host_only
	top_world topsort
	top_start fails --sort fails
	top_start ports --sort ports
	top_start peer --comm sockpeer
	top_start sockop --comm sockop
	top_released

	rows=$(top_rows fails "$B" 2 10)
	echo "$rows"
	[ "$(ours "$rows")" = "$(printf 'A sockop 5 3\nB sockpeer 2 10\nH sockop 0 7')" ]
	rows=$(top_rows ports "$B" 2 10)
	echo "$rows"
	[ "$(ours "$rows")" = "$(printf 'B sockpeer 2 10\nH sockop 0 7\nA sockop 5 3')" ]
	# Only rows of that command (processes of the host may add their own).
	rows=$(top_rows peer "$B" 2 10)
	echo "$rows"
	[ -z "$(awk '$2 != "sockpeer"' <<<"$rows")" ]
	[ "$(ours "$rows")" = "B sockpeer 2 10" ]
	rows=$(top_rows sockop "$A" 5 3)
	echo "$rows"
	[ -z "$(awk '$2 != "sockop"' <<<"$rows")" ]
	[ "$(ours "$rows")" = "$(printf 'A sockop 5 3\nH sockop 0 7')" ]
}

# screen_until PATTERN: captures the tmux pane into $screen until it shows
# PATTERN (at most 30 s).
screen_until() {
	for ((i = 0; i < 300; i++)); do
		tmux capture-pane -p -t "$TMUX_SESSION" >"$screen"
		grep -q -- "$1" "$screen" && return 0
		sleep 0.1
	done
	cat "$screen"
	echo "the screen never showed '$1'" >&2
	return 1
}

@test "top in a terminal (tmux): s cycles fails, connects, drops, ports, util, pid; rows follow" {
	command -v tmux >/dev/null || skip "no tmux"
	top_world topkeys
	TMUX_SESSION=pwt-topkeys-$$
	screen=$BATS_TEST_TMPDIR/screen
	# Tall enough for every process holding ports on this host.
	tmux new-session -d -s "$TMUX_SESSION" -x 80 -y 60 \
		"$PORTWATCH top -i 1; echo \$? >$BATS_TEST_TMPDIR/top.rc"
	screen_until '^PID '
	top_released
	screen_until "^$B  *sockpeer  *[0-9]*  *0  *2  *[0-9]*  *10 "
	screen_until "^$A  *sockop  *[0-9]*  *0  *5  *[0-9]*  *3 "
	[ "$(ours "$(awk '{ print $1, $2, $5, $7 }' "$screen")")" = "$(printf 'A sockop 5 3\nB sockpeer 2 10\nH sockop 0 7')" ]
	for key in connects drops ports; do
		tmux send-keys -t "$TMUX_SESSION" s
		screen_until "^portwatch top  every 1s  sort: $key  (s: sort, q: quit)$"
	done
	cat "$screen"
	[ "$(ours "$(awk '{ print $1, $2, $5, $7 }' "$screen")")" = "$(printf 'B sockpeer 2 10\nH sockop 0 7\nA sockop 5 3')" ]
	for key in util pid fails; do
		tmux send-keys -t "$TMUX_SESSION" s
		screen_until "^portwatch top  every 1s  sort: $key  (s: sort, q: quit)$"
	done
	tmux send-keys -t "$TMUX_SESSION" q
	for ((i = 0; i < 300; i++)); do
		[ -s "$BATS_TEST_TMPDIR/top.rc" ] && break
		sleep 0.1
	done
	[ "$(cat "$BATS_TEST_TMPDIR/top.rc")" -eq 0 ]
}

# snapshots_after FILE N: waits until FILE holds more than N top snapshots.
snapshots_after() {
	local i
	for ((i = 0; i < 300; i++)); do
		[ "$(grep -c '^--- ' "$1")" -gt "$2" ] && return 0
		sleep 0.1
	done
	echo "no top snapshot after the ${2}th in $1" >&2
	return 1
}

@test "top forgets the connect counts of exited processes, and shows the connects it could not count" {
	netns_new topprune
	PW_FORMAT=text pw_start_cmd top -i 1
	map=$(for id in $(bpf_ids "$PW_PID" map); do
		bpftool map show id "$id" -j | jq -r "select(.name == \"connect_counts\") | .id"
	done)
	[ -n "$map" ] || setup_error "top holds no connect_counts map"
	count_of() { bpftool map dump id "$map" -j | jq "[.[].formatted | select(.key == $1) | .value.ipv4 + .value.ipv6] | add // 0"; }
	sockop_hold "$NS" listen 127.0.0.1 9000 connect 127.0.0.1 9000 3
	client=$SOCKOP_PID
	[ "$(count_of "$client")" -eq 3 ]
	kill "$client"
	while kill -0 "$client" 2>/dev/null; do sleep 0.05; done
	seen=$(grep -c '^--- ' "$PW_OUT")
	snapshots_after "$PW_OUT" "$seen"
	[ "$(bpftool map dump id "$map" -j | jq "[.[].formatted | select(.key == $client)] | length")" -eq 0 ]

	# A full table: keys of no process (above any pid_max) fill it while top
	# is stopped; the connect that follows is not counted, and top says so.
	kill -STOP "$PW_PID"
	max=$(bpftool map show id "$map" -j | jq .max_entries)
	have=$(bpftool map dump id "$map" -j | jq length)
	# (a struct pw_connects of zeros)
	zero=$(bpftool map show id "$map" -j | jq -r '[range(.bytes_value)] | map("00") | join(" ")')
	awk -v map="$map" -v from="$have" -v to="$max" -v zero="$zero" 'BEGIN {
		for (k = from; k < to; k++)
			printf "map update id %s key hex %02x %02x %02x 40 value hex %s\n",
				map, k % 256, int(k / 256) % 256, int(k / 65536) % 256, zero
	}' >"$BATS_TEST_TMPDIR/fill"
	bpftool batch file "$BATS_TEST_TMPDIR/fill" >/dev/null
	[ "$(bpftool map dump id "$map" -j | jq length)" -eq "$max" ] ||
		setup_error "connect_counts did not fill"
	sockop "$NS" listen 127.0.0.1 9001 connect 127.0.0.1 9001 1
	kill -CONT "$PW_PID"
	seen=$(grep -c '^--- ' "$PW_OUT")
	snapshots_after "$PW_OUT" "$seen"
	[ "$(grep '^connects not counted per process (table full): ' "$PW_OUT" | tail -1)" = \
		"connects not counted per process (table full): 1" ]
	# Those keys were of no process: the refresh deleted them.
	[ "$(bpftool map dump id "$map" -j | jq length)" -eq 0 ]
	pw_stop
}
