#!/usr/bin/env bats
# Container identity: real Podman containers (runc) on a network of the
# test's own; every record of a container's process names the container
# (resolved by cgroup id from the runtime's local files), and the filters
# --container, --pod, --k8s-namespace keep exactly its events.

load lib
load podman

setup() {
	podman_ready
	client_image
	SUBNET="10.213.$((RANDOM % 200 + 20)).0/24"
	container_net ctr "$SUBNET"
	container_run srv --network "$NET" -- sockop listen 0.0.0.0 8080 listen 0.0.0.0 8081 hold
	container_logs_wait "$CONTAINER" holding
	SRV=$CONTAINER
	SRV_ID=$CONTAINER_ID
	SRV_IP=$("${PODMAN[@]}" inspect -f "{{(index .NetworkSettings.Networks \"$NET\").IPAddress}}" "$SRV")
	[ -n "$SRV_IP" ] || setup_error "the server container has no address on $NET"
}

teardown() {
	pw_teardown
	podman_teardown
	[ -z "${SNAT_TABLE:-}" ] || nft delete table ip "$SNAT_TABLE" 2>/dev/null || true
}

# conntrack's insert_failed in this (the host's) netns, summed over CPUs.
host_insert_failed() {
	conntrack -S | grep -o ' insert_failed=[0-9]*' | cut -d= -f2 | awk '{ n += $1 } END { print n + 0 }'
}

# A client container of range 40000-40003 (4 ports toward one destination)
# making 6 connects to the server: the last 2 fail with EADDRNOTAVAIL.
exhausting_client() {
	container_run "$1" --network "$NET" --sysctl "net.ipv4.ip_local_port_range=40000 40003" \
		"${@:2}" -- sockop connect "$SRV_IP" 8080 6 hold
	container_logs_wait "$CONTAINER" holding
	[ "$("${PODMAN[@]}" logs "$CONTAINER" | grep -c 'err 99 EADDRNOTAVAIL')" -eq 2 ] ||
		setup_error "the client did not fail twice: $("${PODMAN[@]}" logs "$CONTAINER")"
}

@test "containers: trace names the client container (name, id, runtime podman); --container keeps exactly its events" {
	pw_start
	pw_start_second trace --container "$(printf 'pwt-cli-%s' $$)"
	pw_launch srv trace --container "${SRV_ID:0:12}"
	SRV_TRACE=$LAUNCHED_PID
	exhausting_client cli
	wait_for_line "$PW2_OUT" port_alloc_fail "$PW2_PID"
	pw_stop
	pw_stop "$PW2_PID" "$PW2_ERR"
	pw_stop "$SRV_TRACE" "$BATS_TEST_TMPDIR/srv.err"
	[ "$(events ".type == \"port_alloc_fail\" and .container == \"$CONTAINER\" and .container_id == \"$CONTAINER_ID\" and .runtime == \"podman\" and .pod == null and .errno == 99 and .daddr == \"$SRV_IP\"")" -eq 2 ]
	PW_OUT=$PW2_OUT
	[ "$(events true)" -eq 2 ]
	[ "$(events ".container == \"$CONTAINER\"")" -eq 2 ]
	PW_OUT=$BATS_TEST_TMPDIR/srv.out
	[ "$(events true)" -eq 0 ]
}

@test "containers: the name comes from the cache by cgroup id: the client and its cgroup are gone when the record is read" {
	container_run gone --network "$NET" --sysctl "net.ipv4.ip_local_port_range=40000 40003" \
		-- sockop wait connect "$SRV_IP" 8080 6
	container_logs_wait "$CONTAINER" waiting
	pw_start --drops=none
	# portwatch reads nothing until the container is removed
	kill -STOP "$PW_PID"
	kill -USR1 "$CONTAINER_PID"
	"${PODMAN[@]}" wait "$CONTAINER" >/dev/null
	[ "$("${PODMAN[@]}" logs "$CONTAINER" | grep -c 'err 99 EADDRNOTAVAIL')" -eq 2 ] ||
		setup_error "the client did not fail twice: $("${PODMAN[@]}" logs "$CONTAINER")"
	"${PODMAN[@]}" rm "$CONTAINER" >/dev/null
	! kill -0 "$CONTAINER_PID" 2>/dev/null || setup_error "the client still runs"
	! find /sys/fs/cgroup -name "libpod-$CONTAINER_ID*" | grep -q . ||
		setup_error "the client's cgroup is still there"
	kill -CONT "$PW_PID"
	wait_for_line "$PW_OUT" port_alloc_fail "$PW_PID"
	pw_stop
	[ "$(events ".type == \"port_alloc_fail\" and .pid == $CONTAINER_PID and .container == \"$CONTAINER\" and .container_id == \"$CONTAINER_ID\" and .runtime == \"podman\"")" -eq 2 ]
}

@test "containers: Kubernetes annotations give pod, k8s_namespace and container; --pod/--k8s-namespace filter; text suffix" {
	pw_start
	pw_start_second trace --pod web-7d4b --k8s-namespace shop
	PW_FORMAT=text pw_launch text trace --drops=none
	TEXT_PID=$LAUNCHED_PID
	pw_launch other trace --k8s-namespace other
	OTHER_PID=$LAUNCHED_PID
	exhausting_client k8s --annotation io.kubernetes.pod.name=web-7d4b \
		--annotation io.kubernetes.pod.namespace=shop \
		--annotation io.kubernetes.container.name=client
	wait_for_line "$PW2_OUT" port_alloc_fail "$PW2_PID"
	wait_for_line "$BATS_TEST_TMPDIR/text.out" EADDRNOTAVAIL "$TEXT_PID"
	pw_stop
	pw_stop "$PW2_PID" "$PW2_ERR"
	pw_stop "$TEXT_PID" "$BATS_TEST_TMPDIR/text.err"
	pw_stop "$OTHER_PID" "$BATS_TEST_TMPDIR/other.err"
	[ "$(events ".type == \"port_alloc_fail\" and .pod == \"web-7d4b\" and .k8s_namespace == \"shop\" and .container == \"client\" and .container_id == \"$CONTAINER_ID\" and .runtime == \"podman\"")" -eq 2 ]
	PW_OUT=$PW2_OUT
	[ "$(events true)" -eq 2 ]
	[ "$(events '.pod == "web-7d4b"')" -eq 2 ]
	PW_OUT=$BATS_TEST_TMPDIR/other.out
	[ "$(events true)" -eq 0 ]
	[ "$(grep -c 'connect EADDRNOTAVAIL (range 40000-40003) \[pod shop/web-7d4b ctr client\]$' "$BATS_TEST_TMPDIR/text.out")" -eq 2 ]
}

@test "containers: drops --by container counts a client's dropped SYNs under its container, == the rule's counter; ports counts its sockets; drops and ports --container" {
	# 2 connects held, then connects whose SYNs a rule in its netns drops
	container_run drop --network "$NET" -- \
		sockop connect "$SRV_IP" 8080 2 syncnt 1 wait connect "$SRV_IP" 8081 2 hold
	container_logs_wait "$CONTAINER" waiting
	nsenter -t "$CONTAINER_PID" -n nft -f - <<-NFT
	table inet pwtest {
		chain out {
			type filter hook output priority 0;
			tcp dport 8081 tcp flags syn counter drop
		}
	}
	NFT
	pw_start_cmd drops --by container,reason
	pw_start_second drops --by reason --container "$CONTAINER"
	PW_FORMAT=json pw_launch srv drops --by reason --container "${SRV_ID:0:12}"
	SRV_DROPS_PID=$LAUNCHED_PID
	kill -USR1 "$CONTAINER_PID"
	container_logs_wait "$CONTAINER" holding
	[ "$("${PODMAN[@]}" logs "$CONTAINER" | grep -c 'err 110 ETIMEDOUT')" -eq 2 ] ||
		setup_error "the connects did not time out: $("${PODMAN[@]}" logs "$CONTAINER")"
	dropped=$(nsenter -t "$CONTAINER_PID" -n nft -j list chain inet pwtest out |
		jq '[.nftables[] | select(.rule) | .rule.expr[] | select(.counter) | .counter.packets] | add')
	[ "$dropped" -ge 4 ] || setup_error "the rule dropped $dropped SYNs"
	run "$PORTWATCH" ports --json --container "$CONTAINER"
	[ "$status" -eq 0 ]
	filtered_ports=$output
	run "$PORTWATCH" ports --json
	[ "$status" -eq 0 ]
	pw_stop
	pw_stop "$PW2_PID" "$PW2_ERR"
	pw_stop "$SRV_DROPS_PID" "$BATS_TEST_TMPDIR/srv.err"
	[ "$(jq -s "[.[] | select(.type == \"drops\" and .container == \"$CONTAINER\" and .container_id == \"$CONTAINER_ID\" and .runtime == \"podman\" and .reason == \"$NF_DROP\") | .count] | add" "$PW_OUT")" -eq "$dropped" ]
	# --container: exactly the client's drops; the server container had none
	[ "$(jq -s "[.[] | select(.type == \"drops\") | .count] | add" "$PW2_OUT")" -eq "$dropped" ]
	[ "$(jq -s "[.[] | select(.type == \"drops\")] | length" "$BATS_TEST_TMPDIR/srv.out")" -eq 0 ]
	# ports --container: the client's rows only, the same rows as unfiltered
	[ "$(jq -s "[.[] | select(.type == \"port\")] | length" <<<"$filtered_ports")" -ge 1 ]
	[ "$(jq -s "[.[] | select(.type == \"port\" and .container != \"$CONTAINER\")] | length" <<<"$filtered_ports")" -eq 0 ]
	[ "$(jq -cs "[.[] | select(.type == \"port\")]" <<<"$filtered_ports")" = "$(jq -cs "[.[] | select(.type == \"port\" and .container == \"$CONTAINER\")]" <<<"$output")" ]
	# the client's 2 established sockets toward the server, under its container
	[ "$(jq -s "[.[] | select(.type == \"port\" and .container == \"$CONTAINER\" and .daddr == \"$SRV_IP\" and .dport == 8080) | .established] | add" <<<"$output")" -eq 2 ]
	[ "$(jq -s "[.[] | select(.type == \"container\" and .container == \"$CONTAINER\") | .sockets] | add" <<<"$output")" -eq 2 ]
	# the server's accepted sockets are not ephemeral: no row of its
	[ "$(jq -s "[.[] | select(.type == \"port\" and .container == \"$SRV\")] | length" <<<"$output")" -eq 0 ]
}

@test "containers: check's evidence and top's CONTAINER column name the client container; check and top --container" {
	exhausting_client chk
	run "$PORTWATCH" check --json --netns "/proc/$CONTAINER_PID/ns/net"
	[ "$status" -eq 1 ]
	[ "$(jq -s "[.[] | select(.type == \"finding\" and .check == \"destination_ports\" and .severity == \"error\" and (.evidence | contains(\"pid $CONTAINER_PID (sockop, container $CONTAINER) 4\")))] | length" <<<"$output")" -eq 1 ]
	# --container: the same finding, checked in the container's netns alone
	run "$PORTWATCH" check --json --container "$CONTAINER"
	[ "$status" -eq 1 ]
	[ "$(jq -s "[.[] | select(.type == \"finding\" and .check == \"destination_ports\" and .severity == \"error\" and (.evidence | contains(\"pid $CONTAINER_PID (sockop, container $CONTAINER) 4\")))] | length" <<<"$output")" -eq 1 ]
	[ "$(jq -s "[.[] | select(.type == \"finding\" and .netns != 0 and .netns != $(stat -L -c %i "/proc/$CONTAINER_PID/ns/net"))] | length" <<<"$output")" -eq 0 ]
	run "$PORTWATCH" check --container pwt-no-such-container
	[ "$status" -eq 2 ]
	[ "$output" = "portwatch: no running process is in that container" ]
	PW_FORMAT=text pw_launch ctop top -i 1 --container "$CONTAINER"
	CTOP_PID=$LAUNCHED_PID
	wait_for_line "$BATS_TEST_TMPDIR/ctop.out" "^$CONTAINER_PID " "$CTOP_PID"
	pw_stop "$CTOP_PID" "$BATS_TEST_TMPDIR/ctop.err"
	# only the client's process rows: every row under the header is it
	[ "$(awk '/^PID /{h=1; next} /^$/{h=0} h {print $1}' "$BATS_TEST_TMPDIR/ctop.out" | sort -u)" = "$CONTAINER_PID" ]
	PW_FORMAT=text pw_launch top top -i 1 --pid "$CONTAINER_PID"
	TOP_PID=$LAUNCHED_PID
	wait_for_line "$BATS_TEST_TMPDIR/top.out" "^$CONTAINER_PID " "$TOP_PID"
	pw_stop "$TOP_PID" "$BATS_TEST_TMPDIR/top.err"
	grep -q "^PID .* UTIL% CONTAINER    FULLEST DEST$" "$BATS_TEST_TMPDIR/top.out"
	grep -q "^$CONTAINER_PID  *sockop .* ${CONTAINER:0:12} $SRV_IP:8080$" "$BATS_TEST_TMPDIR/top.out"
}

@test "containers: bad --container, --pod, --k8s-namespace: one line, exit 2" {
	host_only
	run "$PORTWATCH" trace --container 'web 1'
	[ "$status" -eq 2 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == *"invalid --container 'web 1': 1 to 253 letters, digits, '_', '.' or '-', starting with a letter or digit" ]]
	run "$PORTWATCH" trace --pod ''
	[ "$status" -eq 2 ]
	[ "${#lines[@]}" -eq 1 ]
	run "$PORTWATCH" trace --k8s-namespace '-x'
	[ "$status" -eq 2 ]
	[ "${#lines[@]}" -eq 1 ]
}

@test "containers: behind the runtime's NAT with a 2-port SNAT range, the clash drops name the client container" {
	# A server beyond the host: a netns on a veth of its own.
	netns_new natsrv
	ip link add "pwtv$$" type veth peer name eth0 netns "$NS"
	ip addr add 198.51.100.1/24 dev "pwtv$$"
	ip link set "pwtv$$" up
	ip -n "$NS" addr add 198.51.100.2/24 dev eth0
	ip -n "$NS" link set eth0 up
	sockop_hold "$NS" listen 198.51.100.2 443
	# The container network's SNAT toward it: 2 ports, ahead of the runtime's MASQUERADE.
	SNAT_TABLE=pwt-snat-$$
	nft -f - <<-NFT
	table ip $SNAT_TABLE {
		chain post {
			type nat hook postrouting priority srcnat - 10;
			ip saddr $SUBNET ip daddr 198.51.100.2 tcp dport 443 masquerade to :50000-50001
		}
	}
	NFT
	before=$(host_insert_failed)
	pw_start --drops=attributed --drop-rate=0
	container_run natcli --network "$NET" -- sockop syncnt 1 connect 198.51.100.2 443 3 hold
	container_logs_wait "$CONTAINER" holding
	pw_stop
	clashes=$(($(host_insert_failed) - before))
	logs=$("${PODMAN[@]}" logs "$CONTAINER")
	[ "$(grep -c ' ok ' <<<"$logs")" -eq 2 ] || setup_error "2 connects did not get through the NAT: $logs"
	[ "$(grep -c ' err 110 ETIMEDOUT' <<<"$logs")" -eq 1 ] || setup_error "the third did not time out: $logs"
	[ "$clashes" -ge 1 ] || setup_error "conntrack counted no clash"
	host=$(stat -L -c %i /proc/self/ns/net)
	clash=".type == \"drop\" and .netns == $host and .nat.class == \"nat_clash\""
	[ "$(events "$clash")" -eq "$clashes" ]
	[ "$(events "$clash and .attribution == \"conntrack\" and .pid == $CONTAINER_PID
		and .container == \"$CONTAINER\" and .container_id == \"$CONTAINER_ID\" and .runtime == \"podman\"
		and .nat.orig.daddr == \"198.51.100.2\" and .nat.orig.dport == 443
		and .nat.reply.dport >= 50000 and .nat.reply.dport <= 50001")" -eq "$clashes" ]
	[ "$(events ".type == \"connect_fail\" and .error == \"ETIMEDOUT\" and .container == \"$CONTAINER\"")" -eq 1 ]
}
