#!/usr/bin/env bats
# The command line: JSON output, filters, bad input, stopping, probes, losses.

load lib

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
	keys='["cgroup_id","comm","daddr","dport","errno","error","family","netns","op","pid","port_range","proto","rung","saddr","sport","tid","ts","type"]'
	[ "$(jq -s --argjson k "$keys" '[.[] | keys == $k] | all' "$PW_OUT")" = true ]
	[ "$(jq -s '[.[] | .ts | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\\.[0-9]{6}Z$")] | all' "$PW_OUT")" = true ]
	[ "$(events ".pid == $A and .cgroup_id == $(stat -c %i "$CG/child")")" -eq 1 ]
}

@test "filters keep and drop the right events" {
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

@test "not root: one line, non-zero" {
	run setpriv --reuid=nobody --regid=nogroup --clear-groups "$PORTWATCH" trace
	[ "$status" -ne 0 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "${lines[0]}" == "portwatch: must run as root"* ]]
}

@test "no kernel BTF: one line, non-zero" {
	run unshare -m sh -c "mount -t tmpfs none /sys/kernel/btf && exec $PORTWATCH trace"
	[ "$status" -ne 0 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "${lines[0]}" == "portwatch: kernel BTF not found"* ]]
}

@test "-d stops by itself and SIGTERM detaches cleanly, both with status 0" {
	run timeout 60 "$PORTWATCH" trace -d 1
	[ "$status" -eq 0 ]
	[[ "$output" == *"Tracing "*"Hit Ctrl-C to end."* ]]

	pw_start --drops=none
	bpftool prog show >"$BATS_TEST_TMPDIR/progs"
	grep -q 'name tp_inet_sock_se' "$BATS_TEST_TMPDIR/progs"
	# trace --drops=none leaves out the hooks of drops and latency (names cut
	# at 15 characters), and the sockops program that serves drops.
	[ "$(grep -c 'name tpc\?_kfree_skb\|name [a-z]*___ine\|name sockops_flows' "$BATS_TEST_TMPDIR/progs")" -eq 0 ]
	kill -TERM "$PW_PID"
	wait "$PW_PID"
	# Nothing stays attached: the kernel frees the programs (asynchronously).
	for ((i = 0; i < 200; i++)); do
		bpftool prog show | grep -q 'name tp_inet_sock_se' || return 0
		sleep 0.05
	done
	return 1
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
	           if (n != 7) { print n " hooks chosen"; exit 1 } }' <<<"$output"
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
