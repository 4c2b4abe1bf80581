#!/usr/bin/env bats
# trace's text output (what `make run` shows): the header and the columns of
# each event, compared exactly with what the failing process saw.

load lib

teardown() {
	pw_teardown
}

# text_line TIME PID COMM NETNS PROTO LOCAL REMOTE RESULT: a line as trace lays it out.
text_line() {
	printf '%-8s %-7s %-15s %-10s %-5s %-24s %-24s %s\n' "$@"
}

# in_netns INO: trace's text lines (stdout: $PW_OUT) whose NETNS column is INO.
in_netns() {
	awk -v ino="$1" 'NR > 1 && $4 == ino' "$PW_OUT"
}

@test "trace text: the header, then one line per EADDRNOTAVAIL with its pid, netns, tuple and range" {
	host_only
	exhausted_ns text
	# No filter, as `make run`: the namespace's lines are told by their NETNS.
	PW_FORMAT=text pw_start
	sockop "$NS" connect 127.0.0.1 8080 3
	pw_stop

	failed=$(grep -c 'connect 127.0.0.1 8080 err 99 EADDRNOTAVAIL' "$SOCKOP_OUT")
	[ "$failed" -eq 3 ] || setup_error "sockop saw $failed EADDRNOTAVAIL, not 3"
	[ "$(head -1 "$PW_OUT")" = "$(text_line TIME PID COMM NETNS PROTO LOCAL REMOTE RESULT)" ]
	in_netns "$INO" >"$BATS_TEST_TMPDIR/ours"
	cat "$BATS_TEST_TMPDIR/ours"
	[ "$(wc -l <"$BATS_TEST_TMPDIR/ours")" -eq "$failed" ]
	while read -r line; do
		ts=${line%% *}
		[[ "$ts" =~ ^[0-9]{2}:[0-9]{2}:[0-9]{2}$ ]]
		[ "$line" = "$(text_line "$ts" "$SOCKOP_PID" sockop "$INO" tcp4 '0.0.0.0:*' \
			127.0.0.1:8080 'connect EADDRNOTAVAIL (range 40000-40001)')" ]
	done <"$BATS_TEST_TMPDIR/ours"
	# The same columns, read as columns.
	[ "$(awk '{ r = $8; for (i = 9; i <= NF; i++) r = r " " $i
		print $2, $3, $4, $5, $6, $7, r }' "$BATS_TEST_TMPDIR/ours" | sort -u)" = \
		"$SOCKOP_PID sockop $INO tcp4 0.0.0.0:* 127.0.0.1:8080 connect EADDRNOTAVAIL (range 40000-40001)" ]
}

@test "trace text: a SYN dropped by a rule is a connect ETIMEDOUT line with its time in SYN_SENT" {
	host_only
	netns_new textsyn
	ino=$(netns_inode "$NS")
	drop_syns "$NS" 9999
	PW_FORMAT=text pw_start
	# JSON beside it: the exact port and time the text line must show.
	pw_start_second trace --netns "$ino"
	sockop "$NS" syncnt 1 connect 127.0.0.1 9999 1
	grep -q 'connect 127.0.0.1 9999 err 110 ETIMEDOUT' "$SOCKOP_OUT" ||
		setup_error "sockop's connect did not time out"
	pw_stop
	pw_stop "$PW2_PID" "$PW2_ERR"

	jq -c 'select(.type == "connect_fail")' "$PW2_OUT" >"$BATS_TEST_TMPDIR/json"
	[ "$(wc -l <"$BATS_TEST_TMPDIR/json")" -eq 1 ]
	sport=$(jq .sport "$BATS_TEST_TMPDIR/json")
	# As the C side prints it: %.3f of the double.
	secs=$(jq .syn_sent_ns "$BATS_TEST_TMPDIR/json" | awk '{ printf "%.3f", $1 / 1e9 }')
	in_netns "$ino" >"$BATS_TEST_TMPDIR/ours"
	cat "$BATS_TEST_TMPDIR/ours"
	grep -v ' drop ' "$BATS_TEST_TMPDIR/ours" >"$BATS_TEST_TMPDIR/fails" || true
	[ "$(wc -l <"$BATS_TEST_TMPDIR/fails")" -eq 1 ]
	line=$(cat "$BATS_TEST_TMPDIR/fails")
	[ "$line" = "$(text_line "${line%% *}" "$SOCKOP_PID" sockop "$ino" tcp4 "127.0.0.1:$sport" \
		127.0.0.1:9999 "connect ETIMEDOUT after ${secs}s in SYN_SENT")" ]
	# The first retransmission waits TCP_TIMEOUT_INIT (1 s): a kernel constant.
	[ "$(awk -v s="$secs" 'BEGIN { print (s >= 1.0) }')" -eq 1 ]
	syns=$(syns_dropped "$NS")
	[ "$syns" -ge 2 ] || setup_error "the rule dropped $syns SYNs, not the SYN and its retransmission"
	# Every other line of the namespace is one of the SYNs the rule dropped.
	[ "$(grep -c " $SOCKOP_PID  *sockop  *$ino  *tcp4  *127.0.0.1:$sport  *127.0.0.1:9999  *drop $NF_DROP " \
		"$BATS_TEST_TMPDIR/ours")" -eq "$syns" ]
	[ "$(wc -l <"$BATS_TEST_TMPDIR/ours")" -eq $((syns + 1)) ]
}
