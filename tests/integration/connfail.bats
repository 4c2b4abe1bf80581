#!/usr/bin/env bats
# Asynchronous connect failures (SYN_SENT -> CLOSE), attributed through the
# socket-owner map to the process that called connect().

load lib

teardown() {
	pw_teardown
}

@test "SYN timeout behind a dropping rule: connect_fail ETIMEDOUT attributed to the caller" {
	netns_new syn
	drop_syns "$NS" 9999
	pw_start --netns "$(netns_inode "$NS")"
	sockop "$NS" syncnt 1 connect 127.0.0.1 9999 1
	grep -q 'connect 127.0.0.1 9999 err 110 ETIMEDOUT' "$SOCKOP_OUT"
	pw_stop

	[ "$(events '.type == "port_alloc_fail" or .type == "connect_fail"')" -eq 1 ]
	# Every SYN the rule dropped is a drop record tied to the caller's socket.
	syns=$(syns_dropped "$NS")
	[ "$syns" -ge 2 ]
	[ "$(events ".type == \"drop\" and .reason == \"$NF_DROP\" and .pid == $SOCKOP_PID
		and .attribution == \"socket\" and .dport == 9999")" -eq "$syns" ]
	# The first retransmission waits TCP_TIMEOUT_INIT (1 s): a kernel constant.
	[ "$(events ".type == \"connect_fail\" and .pid == $SOCKOP_PID and .comm == \"sockop\"
		and .errno == 110 and .error == \"ETIMEDOUT\" and .owner == \"live\"
		and .daddr == \"127.0.0.1\" and .dport == 9999 and .saddr == \"127.0.0.1\"
		and .sport > 0 and .syn_sent_ns >= 1000000000")" -eq 1 ]
}

@test "RST to a SYN: connect_fail ECONNREFUSED, not a port-allocation failure" {
	netns_new rst
	pw_start --netns "$(netns_inode "$NS")"
	sockop "$NS" connect 127.0.0.1 9 1
	grep -q 'connect 127.0.0.1 9 err 111 ECONNREFUSED' "$SOCKOP_OUT"
	pw_stop

	[ "$(events '.type == "port_alloc_fail" or .type == "connect_fail"')" -eq 1 ]
	[ "$(events ".type == \"connect_fail\" and .pid == $SOCKOP_PID and .errno == 111
		and .error == \"ECONNREFUSED\" and .dport == 9 and .syn_sent_ns > 0")" -eq 1 ]
}

@test "a socket opened before portwatch started is attributed to its owner, not to the killer" {
	netns_new seed
	drop_syns "$NS" 9999
	sockop_hold "$NS" nbconnect 127.0.0.1 9999
	grep -q 'nbconnect 127.0.0.1 9999 ok' "$SOCKOP_OUT"
	owner=$SOCKOP_PID
	pw_start --netns "$(netns_inode "$NS")"
	# At least one SYN retransmission dropped while portwatch runs.
	wait_for_line "$PW_OUT" '"dport":9999' || setup_error "no SYN retransmission was dropped within 30 s"
	# sock_diag destroy from another process: the state change runs in ss's context.
	ip netns exec "$NS" ss -K -t dst 127.0.0.1 dport = 9999 >/dev/null
	pw_stop

	[ "$(events '.type == "port_alloc_fail" or .type == "connect_fail"')" -eq 1 ]
	# Every dropped retransmission belongs to the seeded owner, by its socket.
	drops=$(events '.type == "drop" and .dport == 9999')
	[ "$drops" -ge 1 ]
	[ "$(events ".type == \"drop\" and .dport == 9999 and .pid == $owner and .attribution == \"socket\"")" -eq "$drops" ]
	[ "$(events ".type == \"drop\" and .pid != $owner")" -eq 0 ]
	[ "$(events ".type == \"connect_fail\" and .pid == $owner and .comm == \"sockop\"
		and .errno == 103 and .error == \"ECONNABORTED\" and .owner == \"seeded\"
		and .syn_sent_ns == null and .dport == 9999")" -eq 1 ]
}

@test "a connect the owner abandons in SYN_SENT is reported as closed" {
	netns_new abandon
	drop_syns "$NS" 9999
	pw_start --netns "$(netns_inode "$NS")"
	sockop_hold "$NS" nbconnect 127.0.0.1 9999
	owner=$SOCKOP_PID
	kill -TERM "$owner"
	wait "$owner" || true
	pw_stop

	[ "$(events '.type == "port_alloc_fail" or .type == "connect_fail"')" -eq 1 ]
	[ "$(events ".type == \"connect_fail\" and .pid == $owner and .errno == 0
		and .error == \"closed\" and .owner == \"live\" and .syn_sent_ns > 0")" -eq 1 ]
}
