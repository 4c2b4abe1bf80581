#!/usr/bin/env bats
# Strings a process controls reach a terminal escaped: a process that names
# itself with a terminal escape and a newline cannot colour or forge lines.

load lib

teardown() {
	pw_teardown
}

# The name (13 bytes: ESC, a colour, a quote, a newline) and how text shows it.
EVIL=$'\e[31mEVIL"\n{x'
SHOWN='\x1b[31mEVIL"\x0a{x'

# text_launch NAME COMMAND ARGS...: portwatch COMMAND without --json in the
# background until attached; output in $BATS_TEST_TMPDIR/NAME.out.
text_launch() {
	local name=$1 cmd=$2
	shift 2
	"$PORTWATCH" "$cmd" "${PW_ATTACH_ARGS[@]}" "$@" >"$BATS_TEST_TMPDIR/$name.out" \
		2>"$BATS_TEST_TMPDIR/$name.err" &
	PIDS+=("$!")
	eval "${name}_pid=$!"
	wait_for_line "$BATS_TEST_TMPDIR/$name.err" "Hit Ctrl-C to end." "$!"
}

# raw_escapes FILE: lines of FILE holding an ESC byte.
raw_escapes() {
	grep -c $'\e' "$1" || true
}

# owner_lines FILE PID NAME [PATTERN]: lines of FILE where the field PID is
# followed by the field NAME (taken as is) and that match PATTERN.
owner_lines() {
	PW_NAME=$3 awk -v pid="$2" -v pat="${4:-}" '
		{ for (i = 1; i < NF; i++) if ($i == pid && $(i + 1) == ENVIRON["PW_NAME"] && $0 ~ pat) { n++; break } }
		END { print n + 0 }' "$1"
}

@test "a process named with an escape and a newline: every text output escapes it, JSON keeps it" {
	host_only
	netns_new esc
	ino=$(netns_inode "$NS")
	port_range "$NS" 40000 40001
	ip netns exec "$NS" nft add table inet t
	ip netns exec "$NS" nft add chain inet t out '{ type filter hook output priority 0; }'
	ip netns exec "$NS" nft add rule inet t out udp dport 9999 counter drop
	sockop_hold "$NS" listen 127.0.0.1 8080
	# Named first, then: 2 connects hold the range, the 3rd fails, one
	# datagram dies in the output hook (a drop owned by the process).
	sockop_gated "$NS" comm "$EVIL" connect 127.0.0.1 8080 3 udp sendto 127.0.0.1 9999
	client=$GATED_PID
	text_launch trace trace --netns "$ino" --drop-rate=0
	pw_start --netns "$ino" --drop-rate=0
	text_launch drops drops --by reason,process
	release "$client"
	[ "$(grep -c ' err 99 EADDRNOTAVAIL' "$BATS_TEST_TMPDIR/gated.$client")" -eq 1 ] ||
		setup_error "the 3rd connect did not fail"
	[ "$(cat "/proc/$client/comm")" = "$(printf '%s' "$EVIL" | head -c 15)" ] ||
		setup_error "sockop's name was not set"
	"$PORTWATCH" ports --netns "$ino" >"$BATS_TEST_TMPDIR/ports.out"
	"$PORTWATCH" check --netns "$ino" >"$BATS_TEST_TMPDIR/check.out" || true
	"$PORTWATCH" top -i 1 --pid "$client" >"$BATS_TEST_TMPDIR/top.out" 2>/dev/null &
	PIDS+=("$!")
	top=$!
	wait_for_line "$BATS_TEST_TMPDIR/top.out" "^$client " "$top"
	kill -INT "$top" "$trace_pid" "$drops_pid"
	wait "$top" "$trace_pid" "$drops_pid"
	pw_stop

	for out in trace drops ports check top; do
		cat "$BATS_TEST_TMPDIR/$out.out"
	done
	for out in trace drops ports check top; do
		[ "$(raw_escapes "$BATS_TEST_TMPDIR/$out.out")" -eq 0 ]
	done
	# trace: the failure and the drop, each one line with the name escaped;
	# no line starts with the name's tail.
	t=$BATS_TEST_TMPDIR/trace.out
	[ "$(owner_lines "$t" "$client" "$SHOWN")" -eq 2 ]
	[ "$(owner_lines "$t" "$client" "$SHOWN" 'connect EADDRNOTAVAIL')" -eq 1 ]
	[ "$(owner_lines "$t" "$client" "$SHOWN" "drop $NF_DROP")" -eq 1 ]
	[ "$(grep -c '^{x' "$t")" -eq 0 ]
	[ "$(owner_lines "$BATS_TEST_TMPDIR/drops.out" "$client" "$SHOWN" "$NF_DROP")" -eq 1 ]
	# ports: the destination's row and the process's total.
	[ "$(owner_lines "$BATS_TEST_TMPDIR/ports.out" "$client" "$SHOWN")" -eq 2 ]
	grep -qF "pid $client ($SHOWN) 2" "$BATS_TEST_TMPDIR/check.out"
	# top's COMM column is 12 wide: the escaped name cut there.
	[ "$(owner_lines "$BATS_TEST_TMPDIR/top.out" "$client" "${SHOWN:0:12}")" -ge 1 ]
	# JSON carries the bytes themselves (json-c escapes them as JSON).
	[ "$(events ".pid == $client and .comm == \"\\u001b[31mEVIL\\\"\\n{x\"")" -eq 2 ]
}

@test "an unknown command is escaped and every command is listed" {
	host_only
	run "$PORTWATCH" $'bo\egus'
	[ "$status" -eq 2 ]
	[ "${#lines[@]}" -eq 1 ]
	[ "${lines[0]}" = "portwatch: unknown command 'bo\\x1bgus' (commands: trace, ports, check, top, serve, drops, latency, probes)" ]
}
