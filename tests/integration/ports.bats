#!/usr/bin/env bats
# portwatch ports: per (netns, owner, destination) counts against the kernel's own view (ss).

load lib

teardown() {
	pw_teardown
}

# ports_json ARGS...: portwatch ports --json; output in $PORTS_OUT.
ports_json() {
	PORTS_OUT=$BATS_TEST_TMPDIR/ports.out
	"$PORTWATCH" ports --json "$@" >"$PORTS_OUT"
}

# row JQ_CONDITION FIELD: FIELD of the one port row matching the condition.
row() {
	jq -s "[.[] | select(.type == \"port\" and $1)] | if length == 1 then .[0].$2 else \"rows: \\(length)\" end" "$PORTS_OUT"
}

@test "1000 connections to each of 3 destinations and TIME_WAIT toward a 4th: exact counts, owner, range" {
	netns_new ports
	ino=$(netns_inode "$NS")
	port_range "$NS" 20000 29999
	ulimit -n 8192
	sockop_hold "$NS" listen 127.0.0.1 8080 listen 127.0.0.1 8081 listen 127.0.0.1 8082
	sockop_hold "$NS" connect 127.0.0.1 8080 1000 connect 127.0.0.1 8081 1000 connect 127.0.0.1 8082 1000
	client=$SOCKOP_PID
	[ "$(grep -c ' ok ' "$SOCKOP_OUT")" -eq 3000 ]
	# Closed before their accepted peers: 50 client sockets in TIME_WAIT toward 8083.
	sockop "$NS" listen 127.0.0.1 8083 connect 127.0.0.1 8083 50 accept 50 close
	grep -q "accept 50 ok" "$SOCKOP_OUT"
	wait_sockets "$NS" 50 state time-wait dst 127.0.0.1:8083
	ports_json --netns "$ino"

	for port in 8080 8081 8082; do
		ss_estab=$(ip netns exec "$NS" ss -Htn state established dst "127.0.0.1:$port" | wc -l)
		[ "$ss_estab" -eq 1000 ]
		[ "$(row ".dport == $port" pid)" -eq "$client" ]
		[ "$(row ".dport == $port" established)" -eq "$ss_estab" ]
		[ "$(row ".dport == $port" comm)" = '"sockop"' ]
		[ "$(row ".dport == $port" total)" -eq 1000 ]
		[ "$(row ".dport == $port" netns)" -eq "$ino" ]
		[ "$(row ".dport == $port" usable)" -eq 10000 ]
		[ "$(row ".dport == $port" utilization)" = 10 ]
	done
	[ "$(row ".dport == 8083" time_wait)" -eq 50 ]
	[ "$(row ".dport == 8083" pid)" = null ]
	[ "$(row ".dport == 8083" range_lo)" -eq 20000 ]
	[ "$(row ".dport == 8083" range_hi)" -eq 29999 ]
	# Listeners and the server side of the connections hold no ephemeral port.
	[ "$(jq -s '[.[] | select(.type == "port")] | length' "$PORTS_OUT")" -eq 4 ]
	[ "$(jq -s "[.[] | select(.type == \"process\" and .pid == $client)][0].sockets" "$PORTS_OUT")" -eq 3000 ]
	[ "$(jq -s "[.[] | select(.type == \"netns\" and .netns == $ino)][0].sockets" "$PORTS_OUT")" -eq 3050 ]
}

@test "orphans in FIN_WAIT2 are counted as ss shows them, not as TIME_WAIT" {
	netns_new orph
	ino=$(netns_inode "$NS")
	port_range "$NS" 20000 29999
	# The server never accepts nor closes: the clients' sockets, closed when
	# sockop exits, wait in FIN_WAIT2 (as timewait sockets of that substate).
	sockop_hold "$NS" listen 127.0.0.1 8090
	sockop "$NS" connect 127.0.0.1 8090 3
	[ "$(grep -c ' ok ' "$SOCKOP_OUT")" -eq 3 ]
	wait_sockets "$NS" 3 state fin-wait-2 dst 127.0.0.1:8090
	ports_json --netns "$ino"
	[ "$(row ".dport == 8090" fin_wait)" -eq 3 ]
	[ "$(row ".dport == 8090" time_wait)" -eq 0 ]
	[ "$(row ".dport == 8090" pid)" = null ]
}

# iter_creates ARGS...: BPF iterators `portwatch ports ARGS` creates.
iter_creates() {
	strace -f -e trace=bpf "$PORTWATCH" ports "$@" 2>&1 >/dev/null | grep -c BPF_ITER_CREATE || true
}

@test "the TCP walk is skipped where every socket has a file, and not where one has none" {
	netns_new owned
	ino=$(netns_inode "$NS")
	port_range "$NS" 20000 29999
	sockop_hold "$NS" listen 127.0.0.1 8091 connect 127.0.0.1 8091 5 accept 5
	owner=$SOCKOP_PID
	# The file iterator only: this netns has no TIME_WAIT and no socket without a file.
	[ "$(iter_creates --netns "$ino")" -eq 1 ]
	ports_json --netns "$ino"
	[ "$(row ".dport == 8091" established)" -eq 5 ]
	[ "$(row ".dport == 8091" pid)" -eq "$owner" ]

	# Connections not yet accepted have no file, and no TIME_WAIT says so: a
	# listener inside the range makes their local port an ephemeral one.
	sockop_hold "$NS" listen 127.0.0.1 25000
	sockop_hold "$NS" connect 127.0.0.1 25000 2
	[ "$(ip netns exec "$NS" awk '/^TCP:/ { print $7 }' /proc/net/sockstat)" -eq 0 ]
	[ "$(iter_creates --netns "$ino")" -eq 2 ]
	ports_json --netns "$ino"
	# The two children waiting in the accept queue, one row per client port, unowned.
	[ "$(jq -s '[.[] | select(.type == "port" and .pid == null and .established == 1)] | length' "$PORTS_OUT")" -eq 2 ]
}

@test "sockets in two namespaces at once are both reported and kept apart" {
	netns_new porta
	a=$NS
	netns_new portb
	b=$NS
	port_range "$a" 30000 30099
	port_range "$b" 40000 40199
	sockop_hold "$a" listen 127.0.0.1 9000 connect 127.0.0.1 9000 7
	pa=$SOCKOP_PID
	sockop_hold "$b" listen 127.0.0.1 9000 connect 127.0.0.1 9000 11
	pb=$SOCKOP_PID
	ports_json

	ia=$(netns_inode "$a")
	ib=$(netns_inode "$b")
	[ "$(row ".netns == $ia and .dport == 9000" established)" -eq 7 ]
	[ "$(row ".netns == $ia and .dport == 9000" pid)" -eq "$pa" ]
	[ "$(row ".netns == $ia and .dport == 9000" usable)" -eq 100 ]
	[ "$(row ".netns == $ib and .dport == 9000" established)" -eq 11 ]
	[ "$(row ".netns == $ib and .dport == 9000" pid)" -eq "$pb" ]
	[ "$(row ".netns == $ib and .dport == 9000" usable)" -eq 200 ]
	# 11 of 200 usable ports: 5.5 percent.
	[ "$(row ".netns == $ib and .dport == 9000" utilization)" = 5.5 ]
}

@test "usable ports == what connect() really gets: the range minus reserved ports inside it" {
	netns_new reserved
	ino=$(netns_inode "$NS")
	# An even range, so every kernel's search covers all of it (an odd one
	# loses a port per search: 6.1 never hands it out, 6.18 sometimes does).
	port_range "$NS" 20000 20099
	ip netns exec "$NS" sysctl -qw net.ipv4.ip_local_reserved_ports="20010-20019,20050,30000"
	# The kernel's own answer: connect until no port is left toward the destination.
	sockop_hold "$NS" listen 127.0.0.1 9000 connect 127.0.0.1 9000 101
	connected=$(grep -c '^connect .* ok ' "$SOCKOP_OUT")
	ports_json --netns "$ino"
	# 100 ports, 11 reserved inside the range (30000 is outside).
	echo "kernel: $connected connects, ports: usable $(row ".dport == 9000" usable)"
	[ "$connected" -eq 89 ]
	[ "$(row ".dport == 9000" usable)" -eq "$connected" ]
	[ "$(row ".dport == 9000" utilization)" = 100 ]
}

@test "ports: bad --netns and --max-rows name the problem" {
	run "$PORTWATCH" ports --netns /nonexistent
	[ "$status" -eq 2 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "${lines[0]}" == *"invalid --netns '/nonexistent'"* ]]
	run "$PORTWATCH" ports --max-rows 3
	[ "$status" -eq 2 ]
	[[ "${lines[0]}" == *"invalid --max-rows '3'"* ]]
	run "$PORTWATCH" ports --netns 4242
	[ "$status" -eq 1 ]
	[[ "${lines[0]}" == *"netns 4242: no task, socket or /run/netns entry has it"* ]]
}

@test "ports: a full row map is reported, not silent" {
	netns_new rows
	ino=$(netns_inode "$NS")
	port_range "$NS" 20000 29999
	# 20 destinations, 16 rows: 4 destinations' sockets are lost and counted.
	steps=$(for p in $(seq 9000 9019); do echo "listen 127.0.0.1 $p connect 127.0.0.1 $p 1"; done)
	# shellcheck disable=SC2086
	sockop_hold "$NS" $steps
	ports_json --netns "$ino" --max-rows 16
	rows=$(jq -s '[.[] | select(.type == "port" and .dport >= 9000 and .dport <= 9019)] | length' "$PORTS_OUT")
	lost=$(jq -s '[.[] | select(.type == "lost")][0].sockets' "$PORTS_OUT")
	echo "rows $rows lost $lost"
	[ "$rows" -eq 16 ]
	[ "$lost" -eq 4 ]
}

@test "ports: a netns it may not enter is counted and its range is unknown, not 0-0" {
	host_only
	# A netns only a process of another user (nobody) holds, with one
	# connection; without CAP_SYS_PTRACE its /proc/PID/ns/net cannot be opened.
	local out=$BATS_TEST_TMPDIR/other.out pid ino
	unshare --net -- sh -c 'ip link set lo up &&
		exec setpriv --reuid 65534 --regid 65534 --clear-groups "$1" \
			listen 127.0.0.1 8080 connect 127.0.0.1 8080 1 hold' _ "$SOCKOP" >"$out" &
	PIDS+=("$!")
	wait_for_line "$out" "^holding" "$!" || setup_error "sockop as nobody: $(cat "$out")"
	pid=$(awk '/^pid/ { print $2 }' "$out")
	ino=$(stat -L -c %i "/proc/$pid/ns/net")
	# Its one socket with a file (the client's) is still counted; the
	# server's end has none, and only the TCP walk inside the netns finds it.
	run setpriv --bounding-set=-all,+sys_admin --inh-caps=-all "$PORTWATCH" ports --json
	[ "$status" -eq 0 ]
	echo "$output" | grep "\"netns\":$ino" | head -3
	[ "$(jq -sc --argjson ino "$ino" '[.[] | select(.type == "netns" and .netns == $ino) |
		[.range_lo, .range_hi, .usable, .sockets]]' <<<"$output")" = "[[null,null,null,1]]" ]
	[ "$(jq -s '[.[] | select(.type == "lost")][0].netns_not_entered >= 1' <<<"$output")" = true ]
	run setpriv --bounding-set=-all,+sys_admin --inh-caps=-all "$PORTWATCH" ports
	[ "$status" -eq 0 ]
	[[ "$output" == *"network namespaces could not be entered: their ranges are unknown (-)"* ]]
	# With CAP_SYS_PTRACE (root's), the range is read.
	ports_json
	[ "$(jq -sc --argjson ino "$ino" '[.[] | select(.type == "netns" and .netns == $ino) |
		.range_lo != null]' "$PORTS_OUT")" = "[true]" ]
}
