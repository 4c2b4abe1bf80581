#!/usr/bin/env bats
# tools/natlab's scenarios under portwatch: the drop class, reason and the
# client's pid appear, and the counts equal the kernel's own counters.

load lib

teardown() {
	pw_teardown
}

# traced SCENARIO TRACE_ARGS...: the scenario's world, then trace with these
# arguments while its client runs; sets PID (the client's). The world comes
# first: where conntrack is a module, its BTF (nf_conn) must be there when
# portwatch loads.
traced() {
	local scenario=$1
	shift
	natlab_up "$scenario"
	pw_start "$@"
	natlab_run "$scenario"
	pw_stop
	PID=$(natlab_value client_pid)
}

@test "nat-port-exhaustion: every SNAT clash drop == insert_failed, attributed to the client" {
	# As traced, with drops next to trace.
	natlab_up nat-port-exhaustion
	pw_start --drops=attributed --drop-rate=0
	pw_start_second drops --by reason,process,nat_class
	natlab_run nat-port-exhaustion
	pw_stop
	pw_stop "$PW2_PID" "$PW2_ERR"

	pid=$(natlab_value client_pid)
	insert_failed=$(natlab_value insert_failed)
	# Two connects fit the 2-port SNAT range, the third times out.
	[ "$(grep -c ' ok ' "$LAB_OUT")" -eq 2 ]
	[ "$(grep -c ' err 110 ETIMEDOUT' "$LAB_OUT")" -eq 1 ]
	[ "$insert_failed" -ge 1 ]
	# The failed connect, with the local port its SYNs carried before SNAT.
	[ "$(events ".type == \"connect_fail\" and .pid == $pid and .error == \"ETIMEDOUT\"")" -eq 1 ]
	sport=$(jq -s "[.[] | select(.type == \"connect_fail\" and .pid == $pid)][0].sport" "$PW_OUT")
	clash=".type == \"drop\" and .netns == $NAT_NETNS and .reason == \"$NF_DROP\" and .nat.class == \"nat_clash\""
	[ "$(events "$clash")" -eq "$insert_failed" ]
	[ "$(events "$clash and .pid == $pid and .comm == \"sockop\" and .attribution == \"conntrack\"
		and .nat.orig.saddr == \"10.0.1.10\" and .nat.orig.sport == $sport
		and .nat.orig.daddr == \"203.0.113.80\" and .nat.orig.dport == 443
		and .nat.reply.saddr == \"203.0.113.80\" and .nat.reply.sport == 443
		and .nat.reply.daddr == \"203.0.113.1\" and .nat.reply.dport >= 50000
		and .nat.reply.dport <= 50001
		and .saddr == \"203.0.113.1\" and .sport >= 50000 and .sport <= 50001
		and .ifname == \"n1\"")" -eq "$insert_failed" ]
	# drops agrees, from the kernel's aggregate.
	ours=$(jq -s "[.[] | select(.type == \"drops\" and .nat_class == \"nat_clash\" and .pid == $pid
		and .reason == \"$NF_DROP\") | .count] | add" "$PW2_OUT")
	[ "$ours" -eq "$insert_failed" ]
}

# flow_progs PID: which of the three tcp_connect programs (one per rung) PID has loaded.
flow_progs() {
	local id
	for id in $(bpf_ids "$1" prog); do
		bpftool prog show id "$id" -j | jq -r .name
	done | grep -x -e fentry_tcp_connect -e kprobe_tcp_connect -e sockops_flows || true
}

@test "nat-port-exhaustion, --no-syscalls: flows from the rung's tcp_connect program attribute every clash" {
	natlab_up nat-port-exhaustion
	rung=$("$PORTWATCH" probes "${PW_ATTACH_ARGS[@]}" | awk '/^tcp_connect:/ { getline; print $2 }')
	case "$rung" in
	fentry) want=fentry_tcp_connect ;;
	kprobe) want=kprobe_tcp_connect ;;
	tracepoint) want=sockops_flows ;;
	*) setup_error "tcp_connect has no rung here: '$rung'" ;;
	esac
	pw_start --drops=attributed --drop-rate=0 --no-syscalls
	[ "$(flow_progs "$PW_PID")" = "$want" ]
	natlab_run nat-port-exhaustion
	pw_stop

	pid=$(natlab_value client_pid)
	insert_failed=$(natlab_value insert_failed)
	[ "$(grep -c ' err 110 ETIMEDOUT' "$LAB_OUT")" -eq 1 ] ||
		setup_error "the third connect did not time out: $(cat "$LAB_OUT")"
	[ "$insert_failed" -ge 1 ]
	clash=".type == \"drop\" and .netns == $NAT_NETNS and .reason == \"$NF_DROP\" and .nat.class == \"nat_clash\""
	[ "$(events "$clash")" -eq "$insert_failed" ]
	[ "$(events "$clash and .pid == $pid and .attribution == \"conntrack\"
		and .nat.orig.saddr == \"10.0.1.10\" and .nat.orig.daddr == \"203.0.113.80\"
		and .nat.orig.dport == 443")" -eq "$insert_failed" ]
}

@test "a drop storm beside a NAT clash: default trace shows every clash, the storm counted exactly" {
	natlab_up nat-port-exhaustion
	storm_up
	rx=$(netns_inode "$STORM_RX")
	pw_start
	# Next to it: trace streaming every drop (the storm's key sampled), and drops.
	pw_start_second trace --drops=all
	pw_launch counts drops --by reason,netns,nat_class
	counts=$LAUNCHED_PID
	storm_out=$BATS_TEST_TMPDIR/storm.out
	ip netns exec "$STORM_TX" "$SOCKOP" udp sendn 192.0.2.2 9999 "$STORM_PACKETS" >"$storm_out" &
	storm=$!
	PIDS+=("$storm")
	natlab_run nat-port-exhaustion
	wait "$storm"
	grep -q "sendn 192.0.2.2 9999 sent $STORM_PACKETS failed 0" "$storm_out"
	pw_stop
	pw_stop "$PW2_PID" "$PW2_ERR"
	pw_stop "$counts" "$BATS_TEST_TMPDIR/counts.err"

	pid=$(natlab_value client_pid)
	insert_failed=$(natlab_value insert_failed)
	rule=$(storm_rule_count)
	echo "insert_failed $insert_failed, storm rule $rule"
	[ "$insert_failed" -ge 1 ] || setup_error "no SNAT clash happened"
	[ "$rule" -eq "$STORM_PACKETS" ]
	clash=".type == \"drop\" and .netns == $NAT_NETNS and .nat.class == \"nat_clash\" and .pid == $pid and .attribution == \"conntrack\""
	for out in "$PW_OUT" "$PW2_OUT"; do
		# What each trace saw of the NAT netns's clashes, for a failure's log.
		jq -sc "[.[] | select(.type == \"drop\" and .netns == $NAT_NETNS) |
			{pid, attribution, class: .nat.class, ts}], [.[] | select(.type == \"lost\")]" "$out"
		[ "$(jq -s "[.[] | select($clash)] | length" "$out")" -eq "$insert_failed" ]
		[ "$(jq -s '[.[] | select(.type == "lost") | .records] | add // 0' "$out")" -eq 0 ]
	done
	# The storm's drops: its netfilter class tells them from other drops of
	# its reason (before 5.17 all are NOT_SPECIFIED, IPv6 traffic's too).
	storm=".netns == $rx and .reason == \"$NF_DROP\""
	rec="$storm and .nat.class == \"filter\"" key="$storm and .nat_class == \"filter\""
	# Default: the storm is no connection's: not streamed, each drop in the summary.
	[ "$(events ".type == \"drop\" and $rec")" -eq 0 ]
	[ "$(held_back "$PW_OUT" "$key" filtered)" -eq "$rule" ]
	# --drops=all: sampled in its key, records + sampled == the rule's count.
	records=$(jq -s "[.[] | select(.type == \"drop\" and $rec)] | length" "$PW2_OUT")
	[ "$((records + $(held_back "$PW2_OUT" "$key" sampled)))" -eq "$rule" ]
	# drops counts every one.
	[ "$(jq -s "[.[] | select(.type == \"drops\" and $key) | .count] | add" "$BATS_TEST_TMPDIR/counts.out")" -eq "$rule" ]
}

@test "nat6-port-exhaustion: IPv6 SNAT clash drops == insert_failed, attributed to the client" {
	traced nat6-port-exhaustion --drops=attributed --drop-rate=0
	pid=$PID
	insert_failed=$(natlab_value insert_failed)
	[ "$(grep -c ' ok ' "$LAB_OUT")" -eq 2 ]
	[ "$(grep -c ' err 110 ETIMEDOUT' "$LAB_OUT")" -eq 1 ]
	[ "$insert_failed" -ge 1 ] || setup_error "no SNAT clash: insert_failed is $insert_failed"
	[ "$(events ".type == \"connect_fail\" and .pid == $pid and .error == \"ETIMEDOUT\"
		and .family == \"ipv6\" and .daddr == \"2001:db8:113::80\" and .dport == 443")" -eq 1 ]
	sport=$(jq -s "[.[] | select(.type == \"connect_fail\" and .pid == $pid)][0].sport" "$PW_OUT")
	clash=".type == \"drop\" and .netns == $NAT_NETNS and .reason == \"$NF_DROP\" and .nat.class == \"nat_clash\""
	# Shown when an assertion fails.
	echo "insert_failed $insert_failed; the drop records:"
	jq -c 'select(.type == "drop") | [.ts, .reason, .location, .nat.class, .pid, .attribution,
		.saddr, .sport, .daddr, .dport, .nat.status, .nat.orig.sport]' "$PW_OUT"
	[ "$(events "$clash")" -eq "$insert_failed" ]
	[ "$(events "$clash and .pid == $pid and .comm == \"sockop\" and .attribution == \"conntrack\"
		and .family == \"ipv6\" and .proto == \"tcp\"
		and .nat.orig.saddr == \"fd00:1::10\" and .nat.orig.sport == $sport
		and .nat.orig.daddr == \"2001:db8:113::80\" and .nat.orig.dport == 443
		and .nat.reply.saddr == \"2001:db8:113::80\" and .nat.reply.sport == 443
		and .nat.reply.daddr == \"2001:db8:113::1\" and .nat.reply.dport >= 50000
		and .nat.reply.dport <= 50001
		and .saddr == \"2001:db8:113::1\" and .sport >= 50000 and .sport <= 50001
		and .ifname == \"n1\"")" -eq "$insert_failed" ]
}

@test "udp-nat-drop: UDP drops after SNAT == the rule's counter, attributed to the client by conntrack" {
	traced udp-nat-drop --drop-rate=0
	pid=$PID
	dropped=$(natlab_value after_snat_drop)
	[ "$(grep -c '^connect 203.0.113.80 53 ok ' "$LAB_OUT")" -eq 5 ] ||
		setup_error "the client did not connect 5 sockets: $(cat "$LAB_OUT")"
	[ "$(grep -c '^write ok' "$LAB_OUT")" -eq 5 ] ||
		setup_error "the client did not send 5 datagrams: $(cat "$LAB_OUT")"
	[ "$dropped" -eq 5 ]
	after_snat=".type == \"drop\" and .netns == $NAT_NETNS and .reason == \"$NF_DROP\" and .ifname == \"n1\"
		and .proto == \"udp\" and .saddr == \"203.0.113.1\" and .daddr == \"203.0.113.80\" and .dport == 53"
	[ "$(events "$after_snat")" -eq "$dropped" ]
	# Each datagram's flow, by the local port its socket got before SNAT.
	for port in $(awk '$1 == "connect" && $4 == "ok" { print $5 }' "$LAB_OUT"); do
		[ "$(events "$after_snat and .pid == $pid and .comm == \"sockop\" and .attribution == \"conntrack\"
			and .nat.orig.saddr == \"10.0.1.10\" and .nat.orig.sport == $port
			and .nat.orig.daddr == \"203.0.113.80\" and .nat.orig.dport == 53
			and .nat.reply.saddr == \"203.0.113.80\" and .nat.reply.sport == 53
			and .nat.reply.daddr == \"203.0.113.1\" and .nat.reply.dport == .sport")" -eq 1 ]
	done
	[ "$(events ".type == \"drop\" and .pid == $pid")" -eq "$dropped" ]
}

@test "TCP and UDP flows opened before trace, dropped after SNAT: attributed by conntrack" {
	# udp-nat-drop's NAT lets TCP 443 through and drops UDP 53 after SNAT.
	natlab_up udp-nat-drop
	host=$NATLAB_PREFIX-host nat=$NATLAB_PREFIX-nat
	# A TCP connection and a connected UDP socket toward the server, one byte
	# on each, then, after the gate, one more on each.
	out=$BATS_TEST_TMPDIR/client
	ip netns exec "$host" "$SOCKOP" connect 203.0.113.80 443 1 udp connect 203.0.113.80 53 1 \
		writeall wait writeall hold >"$out" &
	client=$!
	PIDS+=("$client")
	wait_for_line "$out" "^waiting" "$client"
	grep -q "^writeall ok 2 failed 0" "$out" || setup_error "the first bytes were not sent: $(cat "$out")"
	tport=$(awk '$1 == "connect" && $3 == 443 { print $5 }' "$out")
	uport=$(awk '$1 == "connect" && $3 == 53 { print $5 }' "$out")
	# From now on the NAT drops the TCP flow too, after SNAT.
	ip netns exec "$nat" nft -f - <<-NFT
	table ip aftersnat {
		chain out {
			type filter hook postrouting priority 200;
			oifname "n1" ip daddr 203.0.113.80 tcp dport 443 counter drop
		}
	}
	NFT
	udp_before=$(udp_after_snat_count "$nat")
	pw_start
	kill -USR1 "$client"
	wait_for_line "$out" "^holding" "$client"
	[ "$(grep -c "^writeall ok 2 failed 0" "$out")" -eq 2 ] || setup_error "the second bytes were not sent"
	# The TCP segment is retransmitted until the connection is aborted: its
	# RST dies in the NAT too, once conntrack there saw it (CLOSE).
	ip netns exec "$host" ss -K -t dst 203.0.113.80 dport = 443 >/dev/null
	for ((i = 0; i < 300; i++)); do
		ip netns exec "$nat" conntrack -L -p tcp --orig-port-src "$tport" 2>/dev/null | grep -q CLOSE && break
		sleep 0.1
	done
	ip netns exec "$nat" conntrack -L -p tcp --orig-port-src "$tport" 2>/dev/null | grep -q CLOSE ||
		setup_error "conntrack in the NAT never saw the connection close"
	pw_stop

	tcp_rule=$(ip netns exec "$nat" nft -j list chain ip aftersnat out |
		jq '[.nftables[] | select(.rule) | .rule.expr[] | select(.counter) | .counter.packets] | add')
	udp_rule=$(($(udp_after_snat_count "$nat") - udp_before))
	echo "tcp rule $tcp_rule, udp rule $udp_rule"
	ours=".type == \"drop\" and .netns == $NAT_NETNS and .pid == $client and .attribution == \"conntrack\" and .ifname == \"n1\"
		and .nat.orig.saddr == \"10.0.1.10\" and .nat.orig.daddr == \"203.0.113.80\""
	[ "$udp_rule" -eq 1 ]
	[ "$(events "$ours and .proto == \"udp\" and .nat.orig.sport == $uport and .nat.orig.dport == 53")" -eq 1 ]
	# The segment's transmissions and the RST.
	[ "$tcp_rule" -ge 2 ]
	[ "$(events "$ours and .proto == \"tcp\" and .nat.orig.sport == $tport and .nat.orig.dport == 443")" -eq "$tcp_rule" ]
	[ "$(events ".type == \"drop\" and .netns == $NAT_NETNS and .ifname == \"n1\"")" -eq $((tcp_rule + 1)) ]
}

# udp_after_snat_count NS: packets natlab's after-SNAT UDP rule dropped.
udp_after_snat_count() {
	ip netns exec "$1" nft -a list table ip natlab |
		awk '/after SNAT UDP/ { for (i = 1; i < NF; i++) if ($i == "packets") print $(i + 1) }'
}

@test "acl-partial-ephemeral: replies the ACL drops == the rule's counter, attributed to the client" {
	traced acl-partial-ephemeral --drop-rate=0
	pid=$PID
	denied=$(natlab_value acl_inbound_deny)
	# 4 connects from 39998-40013 with 1024-40000 allowed: at least one fails.
	failed=$(grep -c ' err 110 ETIMEDOUT' "$LAB_OUT")
	[ "$failed" -ge 1 ]
	[ "$denied" -ge "$failed" ]
	acl=".type == \"drop\" and .netns == $NAT_NETNS and .reason == \"$NF_DROP\" and .nat.class == \"filter\" and .ifname == \"n1\""
	[ "$(events "$acl")" -eq "$denied" ]
	# Each is a reply toward a port the ACL leaves out, tied to the client's flow.
	[ "$(events "$acl and .pid == $pid and .attribution == \"conntrack\" and .saddr == \"203.0.113.80\"
		and .sport == 443 and .dport > 40000 and .nat.orig.saddr == \"10.0.1.10\"
		and .nat.orig.sport == .dport")" -eq "$denied" ]
	# Every failed connect is seen, and the dropped flows are exactly theirs (a
	# later connect may reuse the port of a failed one: the same flow again).
	[ "$(events ".type == \"connect_fail\" and .pid == $pid and .error == \"ETIMEDOUT\"")" -eq "$failed" ]
	dropped=$(jq -s "[.[] | select($acl) | .nat.orig.sport] | unique" "$PW_OUT")
	timedout=$(jq -s "[.[] | select(.type == \"connect_fail\" and .pid == $pid) | .sport] | unique" "$PW_OUT")
	echo "dropped flows $dropped, timed-out connects $timedout"
	[ "$dropped" = "$timedout" ]
}

@test "client-port-exhaustion: connect() fails for want of a port, nothing is dropped" {
	traced client-port-exhaustion --drop-rate=0
	pid=$PID
	[ "$(grep -c ' err 99 EADDRNOTAVAIL' "$LAB_OUT")" -eq 1 ]
	[ "$(events ".type == \"port_alloc_fail\" and .pid == $pid and .errno == 99 and .op == \"connect\"
		and .port_range == [50000, 50001] and .daddr == \"203.0.113.80\" and .dport == 443")" -eq 1 ]
	[ "$(events ".type == \"drop\" and .pid == $pid")" -eq 0 ]
}

@test "natlab: bad input gets one line and exit 2; down is idempotent" {
	run "$NATLAB" run no-such-scenario
	[ "$status" -eq 2 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "${lines[0]}" == *"unknown scenario 'no-such-scenario'"* ]]
	run "$NATLAB" frobnicate
	[ "$status" -eq 2 ]
	[[ "${lines[0]}" == *"unknown command 'frobnicate'"* ]]
	run "$NATLAB" down
	[ "$status" -eq 0 ]
	run "$NATLAB" down
	[ "$status" -eq 0 ]
}
