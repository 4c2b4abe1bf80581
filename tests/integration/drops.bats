#!/usr/bin/env bats
# portwatch drops: drop reasons from the kernel's BTF, counts from the kernel.

load lib

teardown() {
	pw_teardown
	[ -z "${CT_MAX_SAVED:-}" ] || sysctl -qw net.netfilter.nf_conntrack_max="$CT_MAX_SAVED"
}

# drop_rule_netns NAME: a netns $NS whose output hook drops UDP to port 9999,
# counted by the rule; rule_count reads the counter.
drop_rule_netns() {
	netns_new "$1"
	ip netns exec "$NS" nft -f - <<-NFT
	table inet acl {
		chain out {
			type filter hook output priority 0;
			udp dport 9999 counter drop
		}
	}
	NFT
}

rule_count() {
	ip netns exec "$1" nft -j list ruleset |
		jq '[.nftables[] | select(.rule) | .rule.expr[] | select(.counter) | .counter.packets] | add'
}

@test "drop reason names from BTF match the kernel's own kfree_skb format" {
	need_drop_reasons
	fmt=$(kfree_skb_format)
	# print fmt: ... __print_symbolic(REC->reason, { 2, "NOT_SPECIFIED" }, ...)
	grep -o '{ [0-9]*, "[A-Z0-9_]*" }' "$fmt" | sed 's/{ \([0-9]*\), "\(.*\)" }/\1 \2/' \
		>"$BATS_TEST_TMPDIR/expected"
	[ "$(wc -l <"$BATS_TEST_TMPDIR/expected")" -gt 10 ]
	"$PORTWATCH" drops --reasons >"$BATS_TEST_TMPDIR/ours"
	# Every reason the tracepoint names, portwatch names the same.
	while read -r value name; do
		grep -qx "$value $name" "$BATS_TEST_TMPDIR/ours" || {
			echo "tracepoint says $value $name; portwatch: $(grep "^$value " "$BATS_TEST_TMPDIR/ours")"
			return 1
		}
	done <"$BATS_TEST_TMPDIR/expected"
}

@test "drops by an nftables rule are counted exactly: == the rule's own counter" {
	drop_rule_netns acl
	ino=$(netns_inode "$NS")
	pw_start_cmd drops -i 1 --by reason,netns,proto
	sockop "$NS" udp sendn 127.0.0.1 9999 5000
	grep -q 'sendn 127.0.0.1 9999 sent 0 failed 5000' "$SOCKOP_OUT"
	pw_stop

	rule=$(rule_count "$NS")
	ours=$(jq -s "[.[] | select(.type == \"drops\" and .reason == \"$NF_DROP\"
		and .netns == $ino and .proto == \"ipv4/udp\") | .count] | add" "$PW_OUT")
	echo "rule $rule portwatch $ours"
	[ "$rule" -eq 5000 ]
	[ "$ours" -eq "$rule" ]
	[ "$(jq -s '[.[] | select(.type == "lost")] | length' "$PW_OUT")" -eq 0 ]
}

@test "drops: bad --by names the problem" {
	run "$PORTWATCH" drops --by reason,color
	[ "$status" -eq 2 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "${lines[0]}" == *"invalid --by 'reason,color'"* ]]
}

@test "a drop storm on a veth is counted exactly, and portwatch still stops on SIGINT" {
	storm_up
	tx=$STORM_TX rx=$STORM_RX packets=$STORM_PACKETS
	pw_start_cmd drops -i 1 --by reason,netns,ifname,nat_class
	# trace streaming every drop next to it: the storm's key is sampled.
	pw_start_second trace --drops=all
	# pw_stop fails unless portwatch exits within 30 s of SIGINT.
	sockop "$tx" udp sendn 192.0.2.2 9999 "$packets"
	grep -q "sendn 192.0.2.2 9999 sent $packets failed 0" "$SOCKOP_OUT"
	pw_stop
	pw_stop "$PW2_PID" "$PW2_ERR"
	# The rule's drops: a netfilter class tells them from other drops of the
	# same reason (before 5.17 all are NOT_SPECIFIED, IPv6 traffic's too).
	storm=".netns == $(netns_inode "$rx") and .reason == \"$NF_DROP\""
	records=$(jq -s "[.[] | select(.type == \"drop\" and $storm and .nat.class == \"filter\")] |
		length" "$PW2_OUT")
	sampled=$(held_back "$PW2_OUT" "$storm and .nat_class == \"filter\"" sampled)
	lost=$(jq -s '[.[] | select(.type == "lost") | .records] | add // 0' "$PW2_OUT")
	echo "trace: $records records of the storm, $sampled sampled, $lost lost"
	[ "$lost" -eq 0 ]
	# Every drop of the storm is a record or counted as sampled, in its key.
	[ "$((records + sampled))" -eq "$packets" ]
	[ "$(held_back "$PW2_OUT" "$storm and .nat_class == \"filter\"" filtered)" -eq 0 ]
	[ "$sampled" -gt 0 ]

	rule=$(storm_rule_count)
	ours=$(jq -s "[.[] | select(.type == \"drops\" and .reason == \"$NF_DROP\"
		and .netns == $(netns_inode "$rx") and .ifname == \"pwstorm1\"
		and .nat_class == \"filter\") | .count] | add" "$PW_OUT")
	echo "sent $packets, rule $rule, portwatch $ours"
	[ "$ours" -eq "$rule" ]
	# Every datagram reached the rule (veth does not drop on its own here).
	[ "$rule" -eq "$packets" ]
	[ "$(jq -s '[.[] | select(.type == "lost")] | length' "$PW_OUT")" -eq 0 ]
}

# rx_dropped NS DEV: the device's receive drops, as the kernel counts them.
rx_dropped() {
	ip -n "$1" -j -s link show "$2" | jq '.[0].stats64.rx.dropped'
}

@test "trace's default stream: unattributed non-IP drops print no line, the summary counts each" {
	netns_new ethtx
	tx=$NS
	netns_new ethrx
	rx=$NS
	ino=$(netns_inode "$rx")
	# No IPv6 chatter on the link: only the frames sent below arrive.
	for ns in "$tx" "$rx"; do
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	done
	ip link add pweth0 netns "$tx" type veth peer name pweth1 netns "$rx"
	ip -n "$tx" link set pweth0 up
	ip -n "$rx" link set pweth1 up
	before=$(rx_dropped "$rx" pweth1)
	"$PORTWATCH" trace "${PW_ATTACH_ARGS[@]}" >"$BATS_TEST_TMPDIR/text.out" 2>"$BATS_TEST_TMPDIR/text.err" &
	text=$!
	PIDS+=("$text")
	wait_for_line "$BATS_TEST_TMPDIR/text.err" "Hit Ctrl-C to end." "$text"
	pw_start
	sockop "$tx" ethsend pweth0 500
	grep -q "ethsend pweth0 sent 500 failed 0" "$SOCKOP_OUT"
	for ((i = 0; i < 300; i++)); do
		[ "$(($(rx_dropped "$rx" pweth1) - before))" -eq 500 ] && break
		sleep 0.1
	done
	dropped=$(($(rx_dropped "$rx" pweth1) - before))
	[ "$dropped" -eq 500 ] || setup_error "pweth1 counted $dropped of the 500 frames as dropped"
	pw_stop
	pw_stop "$text" "$BATS_TEST_TMPDIR/text.err"

	cat "$BATS_TEST_TMPDIR/text.out"
	# No record of them, in JSON or text (unattributed: NETNS is the 4th column).
	[ "$(events ".type == \"drop\" and .netns == $ino")" -eq 0 ]
	[ "$(awk -v ino="$ino" '$4 == ino' "$BATS_TEST_TMPDIR/text.out" | wc -l)" -eq 0 ]
	# Each is in the summary, left out by --drops, none sampled.
	[ "$(held_back "$PW_OUT" ".netns == $ino" filtered)" -eq "$dropped" ]
	[ "$(held_back "$PW_OUT" ".netns == $ino" count)" -eq "$dropped" ]
	[ "$(held_back "$PW_OUT" ".netns == $ino" sampled)" -eq 0 ]
	[ "$(held_back "$PW_OUT" ".netns == $ino and .pid == null and .ifname == \"pweth1\"" count)" -eq "$dropped" ]
	grep -q "^-- .* drops not shown: [0-9]* not of a connection (.*$(drop_reason UNHANDLED_PROTO)" \
		"$BATS_TEST_TMPDIR/text.out"
}

@test "histogram totals == the per-packet records trace gets without a rate limit" {
	drop_rule_netns hist
	ino=$(netns_inode "$NS")
	pw_start --drop-rate=0
	pw_start_second drops --by reason,netns,process
	sockop "$NS" udp sendn 127.0.0.1 9999 3000
	pw_stop
	pw_stop "$PW2_PID" "$PW2_ERR"

	rule=$(rule_count "$NS")
	records=$(events ".type == \"drop\" and .netns == $ino")
	total=$(jq -s "[.[] | select(.type == \"drops\" and .netns == $ino) | .count] | add" "$PW2_OUT")
	echo "rule $rule, trace records $records, drops total $total"
	[ "$rule" -eq 3000 ]
	[ "$records" -eq "$total" ]
	[ "$total" -eq "$rule" ]
	# Dropped in the sender's own output path: attributed through skb->sk.
	[ "$(events ".type == \"drop\" and .netns == $ino and .pid == $SOCKOP_PID
		and .attribution == \"socket\" and .reason == \"$NF_DROP\" and .nat.class == \"filter\"
		and .proto == \"udp\" and .daddr == \"127.0.0.1\" and .dport == 9999")" -eq "$rule" ]
	[ "$(jq -s "[.[] | select(.type == \"drops\" and .netns == $ino and .pid == $SOCKOP_PID) | .count] | add" "$PW2_OUT")" -eq "$rule" ]
	[ "$(jq -s '[.[] | select(.type == "lost")] | length' "$PW_OUT")" -eq 0 ]
}

@test "trace's global drop-rate ceiling: records + suppressed == drops, suppressed reported" {
	drop_rule_netns rate
	# Only attributed drops pass the filter, so unrelated drops elsewhere on
	# the host cannot use up or inflate the budget; the key budget is above
	# the ceiling, so the ceiling alone holds back.
	pw_start --drops=attributed --drop-rate=100 --drop-key-rate=10000000
	sockop "$NS" udp sendn 127.0.0.1 9999 5000
	pw_stop

	rule=$(rule_count "$NS")
	records=$(events ".type == \"drop\"")
	suppressed=$(jq -s '[.[] | select(.type == "lost") | .drops_suppressed] | add // 0' "$PW_OUT")
	echo "rule $rule, records $records, suppressed $suppressed"
	[ "$rule" -eq 5000 ]
	[ "$suppressed" -gt 0 ]
	[ "$((records + suppressed))" -eq "$rule" ]
	[ "$(held_back "$PW_OUT" ".pid == $SOCKOP_PID" sampled)" -eq "$suppressed" ]
	[ "$(events ".type == \"drop\" and .pid != $SOCKOP_PID")" -eq 0 ]
}

@test "trace's per-key budget: a key over it is sampled, counted exactly in the summary" {
	drop_rule_netns keyrate
	ino=$(netns_inode "$NS")
	pw_start --drops=attributed --drop-key-rate=5
	sockop "$NS" udp sendn 127.0.0.1 9999 3000
	pw_stop

	rule=$(rule_count "$NS")
	key=".pid == $SOCKOP_PID and .netns == $ino and .reason == \"$NF_DROP\""
	records=$(events ".type == \"drop\" and $key")
	sampled=$(held_back "$PW_OUT" "$key" sampled)
	echo "rule $rule, records $records, sampled $sampled"
	[ "$rule" -eq 3000 ]
	[ "$((records + sampled))" -eq "$rule" ]
	# The global ceiling (1000/s) held nothing back: the key's budget did.
	[ "$(jq -s '[.[] | select(.type == "lost") | .drops_suppressed] | add // 0' "$PW_OUT")" -eq 0 ]
	[ "$sampled" -gt 0 ]
}

@test "drops on the classic-tp rung count the same as the rule" {
	drop_rule_netns classic
	ino=$(netns_inode "$NS")
	PW_ATTACH_ARGS=(--attach=classic-tp)
	pw_start_cmd drops --by reason,netns,process
	sockop "$NS" udp sendn 127.0.0.1 9999 1000
	pw_stop
	[ "$(rule_count "$NS")" -eq 1000 ]
	[ "$(jq -s "[.[] | select(.type == \"drops\" and .netns == $ino and .reason == \"$NF_DROP\"
		and .pid == $SOCKOP_PID) | .count] | add" "$PW_OUT")" -eq 1000 ]
}

@test "conntrack_full: drops of a full conntrack table are classed so, == conntrack's drop counter" {
	# nf_conntrack_max is global: lower it only on a host that tracks nothing.
	[ -r /proc/sys/net/netfilter/nf_conntrack_max ] || skip "no conntrack in this kernel"
	[ "$(cat /proc/sys/net/netfilter/nf_conntrack_count)" -eq 0 ] ||
		skip "the host tracks connections: a lower nf_conntrack_max would hurt it"
	netns_new ctfull
	ino=$(netns_inode "$NS")
	# A ct expression turns conntrack on in the netns.
	ip netns exec "$NS" nft add table inet t
	ip netns exec "$NS" nft add chain inet t out '{ type filter hook output priority 0; }'
	ip netns exec "$NS" nft add rule inet t out ct state new counter
	sockop_hold "$NS" listen 127.0.0.1 8080
	pw_start --drop-rate=0
	CT_MAX_SAVED=$(cat /proc/sys/net/netfilter/nf_conntrack_max)
	sysctl -qw net.netfilter.nf_conntrack_max=2
	# Two connections fill the table with assured entries (early drop spares
	# those), the third one's SYNs find no room.
	sockop "$NS" syncnt 1 connect 127.0.0.1 8080 3
	sysctl -qw net.netfilter.nf_conntrack_max="$CT_MAX_SAVED"
	pw_stop

	[ "$(grep -c ' ok ' "$SOCKOP_OUT")" -eq 2 ]
	ct_drop=$(ip netns exec "$NS" conntrack -S | tr ' ' '\n' | awk -F= '$1 == "drop" { n += $2 } END { print n + 0 }')
	full=$(events ".type == \"drop\" and .netns == $ino and .nat.class == \"conntrack_full\"")
	echo "conntrack drop $ct_drop, portwatch conntrack_full $full"
	[ "$ct_drop" -ge 1 ]
	[ "$full" -eq "$ct_drop" ]
	[ "$(events ".type == \"drop\" and .netns == $ino and .nat.class == \"conntrack_full\"
		and .pid == $SOCKOP_PID and .attribution == \"socket\" and .dport == 8080")" -eq "$full" ]
}

# established_before_conntrack NAME RULE: a netns ($NS, inode $INO) where a
# connection to 127.0.0.1:8080 is established before conntrack runs there,
# then a filter output chain inet t out holding RULE; with
# nf_conntrack_tcp_loose 0 the connection's next segment is invalid to
# conntrack. The client ($CLIENT, output $CLIENT_OUT) writes one byte on
# SIGUSR1, then holds.
established_before_conntrack() {
	[ -r /proc/sys/net/netfilter/nf_conntrack_max ] || skip "no conntrack in this kernel"
	netns_new "$1"
	INO=$(netns_inode "$NS")
	sockop_hold "$NS" listen 127.0.0.1 8080
	CLIENT_OUT=$BATS_TEST_TMPDIR/client
	ip netns exec "$NS" "$SOCKOP" connect 127.0.0.1 8080 1 wait write hold >"$CLIENT_OUT" &
	CLIENT=$!
	PIDS+=("$CLIENT")
	wait_for_line "$CLIENT_OUT" "^waiting" "$CLIENT"
	ip netns exec "$NS" sysctl -qw net.netfilter.nf_conntrack_tcp_loose=0
	ip netns exec "$NS" nft add table inet t
	ip netns exec "$NS" nft add chain inet t out '{ type filter hook output priority 0; }'
	ip netns exec "$NS" nft add rule inet t out "$2"
}

@test "invalid: segments conntrack refuses are classed so, == the rule's counter" {
	established_before_conntrack invalid "ct state invalid counter drop"
	pw_start --drop-rate=0
	kill -USR1 "$CLIENT"
	wait_for_line "$CLIENT_OUT" "^holding" "$CLIENT"
	grep -q "write ok" "$CLIENT_OUT"
	# Abort the connection: its RST is the last packet it sends (dropped too).
	ip netns exec "$NS" ss -K -t dst 127.0.0.1 dport = 8080 >/dev/null
	pw_stop

	rule=$(rule_count "$NS")
	invalid=$(events ".type == \"drop\" and .netns == $INO and .nat.class == \"invalid\"")
	echo "rule $rule, portwatch invalid $invalid"
	[ "$rule" -ge 2 ]
	[ "$invalid" -eq "$rule" ]
	[ "$(events ".type == \"drop\" and .netns == $INO and .nat.class == \"invalid\"
		and .pid == $CLIENT and .attribution == \"socket\" and .dport == 8080")" -eq "$rule" ]
}

@test "invalid: packets counted invalid before trace started do not make later rule drops invalid" {
	# The segment is invalid, counted and let through: no rule drops it.
	established_before_conntrack oldinvalid "ct state new counter accept"
	kill -USR1 "$CLIENT"
	wait_for_line "$CLIENT_OUT" "^holding" "$CLIENT"
	invalid=$(ip netns exec "$NS" conntrack -S | grep -o ' invalid=[0-9]*' | cut -d= -f2 |
		awk '{ n += $1 } END { print n + 0 }')
	[ "$invalid" -ge 1 ] || setup_error "conntrack counted no invalid packet"
	# Then, with trace running, a rule before conntrack drops datagrams: no entry.
	ip netns exec "$NS" nft add chain inet t raw '{ type filter hook output priority -300; }'
	ip netns exec "$NS" nft add rule inet t raw udp dport 9999 counter drop
	pw_start --drops=all --drop-rate=0
	sockop "$NS" udp connect 127.0.0.1 9999 1 write write write
	pw_stop

	rule=$(ip netns exec "$NS" nft -j list chain inet t raw |
		jq '[.nftables[] | select(.rule) | .rule.expr[] | select(.counter) | .counter.packets] | add')
	[ "$rule" -eq 3 ]
	[ "$(events ".type == \"drop\" and .netns == $INO and .dport == 9999 and .nat.class == \"filter\"")" -eq "$rule" ]
	[ "$(events ".type == \"drop\" and .netns == $INO and .nat.class == \"invalid\"")" -eq 0 ]
}

@test "drops -d: ends by itself with status 0 and its text report: header, the rule's row" {
	host_only
	drop_rule_netns dur
	ino=$(netns_inode "$NS")
	PW_FORMAT=text pw_start_cmd drops -d 3 --by reason,netns
	# Paused, it cannot end before the datagrams are sent; the kernel counts
	# the drops meanwhile.
	kill -STOP "$PW_PID"
	for ((i = 0; i < 100; i++)); do
		state=$(awk '{ print $3 }' "/proc/$PW_PID/stat" 2>/dev/null || echo gone)
		[ "$state" = T ] && break
		[ "$state" != gone ] || setup_error "drops -d 3 ended before it could be paused"
		sleep 0.05
	done
	[ "$state" = T ] || setup_error "drops -d 3 did not stop on SIGSTOP"
	sockop "$NS" udp sendn 127.0.0.1 9999 100
	grep -q 'sendn 127.0.0.1 9999 sent 0 failed 100' "$SOCKOP_OUT"
	kill -CONT "$PW_PID"
	# No signal: it must end by itself.
	for ((i = 0; i < 1200; i++)); do
		kill -0 "$PW_PID" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$PW_PID" 2>/dev/null; then
		echo "drops -d 3 still runs a minute after it was resumed" >&2
		return 1
	fi
	rc=0
	wait "$PW_PID" || rc=$?
	cat "$PW_ERR" "$PW_OUT"
	[ "$rc" -eq 0 ]

	[ "$(rule_count "$NS")" -eq 100 ]
	[ "$(sed -n 2p "$PW_OUT")" = "$(printf '%-28s %-11s %10s %10s' REASON NETNS COUNT RATE/s)" ]
	# The report's first line: its total, that of its rows, in at least 3 s.
	read -r _ total _ _ secs _ < <(head -1 "$PW_OUT")
	[[ "$(head -1 "$PW_OUT")" =~ ^[0-9:]{8}:\ [0-9]+\ drops\ in\ [0-9]+\.[0-9]\ s$ ]]
	[ "$(awk 'NR > 2 { n += $3 } END { print n + 0 }' "$PW_OUT")" -eq "$total" ]
	[ "$(awk -v s="$secs" 'BEGIN { print (s >= 3.0) }')" -eq 1 ]
	# The rule's row, once, with its count, and the bar scaled to the fullest row.
	[ "$(awk -v ino="$ino" -v r="$NF_DROP" 'NR > 2 && $1 == r && $2 == ino' "$PW_OUT" | wc -l)" -eq 1 ]
	row=$(awk -v ino="$ino" -v r="$NF_DROP" 'NR > 2 && $1 == r && $2 == ino' "$PW_OUT")
	max=$(awk 'NR > 2 && $3 > m { m = $3 } END { print m }' "$PW_OUT")
	stars=$((100 * 30 / max))
	bar=$(printf "%-30s" "$(printf '%*s' "$stars" '' | tr ' ' '*')")
	[ "$row" = "$(printf '%-28s %-11s %10s %10s |%s|' "$NF_DROP" "$ino" 100 "$(awk '{ print $4 }' <<<"$row")" "$bar")" ]
}

@test "drops --by location: the rule's drops at one kernel location, == the counter, as trace locates them" {
	drop_rule_netns loc
	ino=$(netns_inode "$NS")
	pw_start_cmd drops --by location,netns
	pw_start_second trace --netns "$ino" --drop-rate=0
	sockop "$NS" udp sendn 127.0.0.1 9999 1000
	grep -q 'sendn 127.0.0.1 9999 sent 0 failed 1000' "$SOCKOP_OUT"
	pw_stop
	pw_stop "$PW2_PID" "$PW2_ERR"

	rule=$(rule_count "$NS")
	[ "$rule" -eq 1000 ]
	jq -c "select(.type == \"drops\" and .netns == $ino)" "$PW_OUT" >"$BATS_TEST_TMPDIR/rows"
	cat "$BATS_TEST_TMPDIR/rows"
	[ "$(wc -l <"$BATS_TEST_TMPDIR/rows")" -eq 1 ]
	[ "$(jq -c keys "$BATS_TEST_TMPDIR/rows")" = '["count","interval_s","location","netns","rate","ts","type"]' ]
	[ "$(jq .count "$BATS_TEST_TMPDIR/rows")" -eq "$rule" ]
	location=$(jq -r .location "$BATS_TEST_TMPDIR/rows")
	[[ "$location" =~ ^[A-Za-z_][A-Za-z0-9_.]*\+0x[0-9a-f]+$ ]]
	# Each of trace's records of these drops names the same function+offset.
	[ "$(jq -r 'select(.type == "drop") | .location' "$PW2_OUT" | sort | uniq -c | awk '{ print $1, $2 }')" = \
		"$rule $location" ]
}

# Two senders whose UDP datagrams rules of their own namespaces drop on
# output: A (comm pwdropa, a copy of sockop) in $NSA and cgroup $CGA toward
# 127.0.0.1:$PA, B (sockop) in $NSB and $CGB toward [::1]:$PB.
two_droppers() {
	netns_new dropa
	NSA=$NS INOA=$(netns_inode "$NS")
	netns_new dropb
	NSB=$NS INOB=$(netns_inode "$NS")
	PA=9917 PB=9918 NA=30 NB=20
	ip netns exec "$NSA" nft add table inet acl
	ip netns exec "$NSA" nft add chain inet acl out '{ type filter hook output priority 0; }'
	ip netns exec "$NSA" nft add rule inet acl out udp dport $PA counter drop
	ip netns exec "$NSB" nft add table inet acl
	ip netns exec "$NSB" nft add chain inet acl out '{ type filter hook output priority 0; }'
	ip netns exec "$NSB" nft add rule inet acl out udp dport $PB counter drop
	cgroup_new dropa
	CGA=$CG
	cgroup_new dropb
	CGB=$CG
	DROPA=$BATS_TEST_TMPDIR/pwdropa
	cp "$SOCKOP" "$DROPA"
}

# filtered_drops 'OPTIONS' KEPT: A sends $NA datagrams, B $NB, under trace
# --drop-rate=0 OPTIONS (which may name $A and $B); KEPT (A, B or AB) says
# whose drops the filter keeps: exactly those are reported, each rule's
# counter's worth, and none of the other's.
filtered_drops() {
	local before_a before_b ra rb want_a=0 want_b=0
	SOCKOP=$DROPA sockop_gated "$NSA" udp sendn 127.0.0.1 $PA $NA
	A=$GATED_PID
	sockop_gated "$NSB" udp sendn ::1 $PB $NB
	B=$GATED_PID
	echo "$A" >"$CGA/cgroup.procs"
	echo "$B" >"$CGB/cgroup.procs"
	before_a=$(rule_count "$NSA")
	before_b=$(rule_count "$NSB")
	eval "pw_start --drop-rate=0 $1"
	release "$A"
	release "$B"
	pw_stop
	grep -q "sendn 127.0.0.1 $PA sent 0 failed $NA" "$BATS_TEST_TMPDIR/gated.$A" ||
		setup_error "A's sends were not all dropped: $(cat "$BATS_TEST_TMPDIR/gated.$A")"
	grep -q "sendn ::1 $PB sent 0 failed $NB" "$BATS_TEST_TMPDIR/gated.$B" ||
		setup_error "B's sends were not all dropped: $(cat "$BATS_TEST_TMPDIR/gated.$B")"
	ra=$(($(rule_count "$NSA") - before_a))
	rb=$(($(rule_count "$NSB") - before_b))
	if [[ $2 == *A* ]]; then want_a=$ra; fi
	if [[ $2 == *B* ]]; then want_b=$rb; fi
	got_a=$(events ".type == \"drop\" and .netns == $INOA")
	got_b=$(events ".type == \"drop\" and .netns == $INOB")
	echo "filtered_drops '$1': A=$A B=$B rules $ra $rb, kept $got_a $got_b, want $want_a $want_b"
	[ "$ra" -eq "$NA" ]
	[ "$rb" -eq "$NB" ]
	[ "$got_a" -eq "$want_a" ]
	[ "$got_b" -eq "$want_b" ]
	# What is kept is the sender's own, with the packet's tuple.
	[ "$(events ".type == \"drop\" and .netns == $INOA and .pid == $A and .comm == \"pwdropa\"
		and .attribution == \"socket\" and .cgroup_id == $(stat -c %i "$CGA")
		and .reason == \"$NF_DROP\" and .proto == \"udp\" and .family == \"ipv4\"
		and .daddr == \"127.0.0.1\" and .dport == $PA")" -eq "$want_a" ]
	[ "$(events ".type == \"drop\" and .netns == $INOB and .pid == $B and .comm == \"sockop\"
		and .attribution == \"socket\" and .cgroup_id == $(stat -c %i "$CGB")
		and .reason == \"$NF_DROP\" and .proto == \"udp\" and .family == \"ipv6\"
		and .daddr == \"::1\" and .dport == $PB")" -eq "$want_b" ]
}

@test "trace's filters on drop records keep exactly the matching drops" {
	host_only
	two_droppers
	# Drops elsewhere on the host are not counted: only these two namespaces'.
	filtered_drops "" AB
	filtered_drops '--netns $INOA' A
	filtered_drops '--netns /run/netns/$NSB' B
	filtered_drops '--pid $A' A
	filtered_drops '-p $B' B
	filtered_drops '--comm pwdropa' A
	filtered_drops '--comm sockop' B
	filtered_drops '--cgroup $CGA' A
	filtered_drops '--cgroup $CGB' B
	filtered_drops '--dport $PA' A
	filtered_drops '--dport $PB' B
	filtered_drops '--daddr 127.0.0.1' A
	filtered_drops '--daddr ::1' B
	filtered_drops '--netns $INOA --dport $PB' ""
}
