#!/usr/bin/env bats
# portwatch serve scraped by a real Prometheus (Debian's), started here on
# loopback with a 1 s scrape interval: the values its HTTP API returns are the
# raw counters and gauges, compared exactly with what the kernel and the
# clients themselves counted. Prometheus asks for OpenMetrics, so these
# scrapes are OpenMetrics; promtool checks the text format.

load lib

bats_require_minimum_version 1.5.0

# Ports of this run: serve's and Prometheus's, on 127.0.0.1.
SERVE_PORT=$((20000 + $$ % 5000))
PROM_PORT=$((SERVE_PORT + 5000))
SERVE_URL=http://127.0.0.1:$SERVE_PORT

setup() {
	[ -z "${PW_GUEST:-}" ] || skip "needs Prometheus and curl, which the guests do not have"
}

teardown() {
	pw_teardown
}

# serve_start ARGS...: portwatch serve on $SERVE_URL until it says it serves.
serve_start() {
	PW_FORMAT=text pw_launch serve serve --listen "127.0.0.1:$SERVE_PORT" "$@"
	SERVE_PID=$LAUNCHED_PID
	SERVE_ERR=$BATS_TEST_TMPDIR/serve.err
}

# prom_start: Prometheus scraping serve every second, its storage in the
# test's directory; bounded wait (30 s) until it is ready.
prom_start() {
	local dir=$BATS_TEST_TMPDIR/prom pid i
	mkdir -p "$dir"
	cat >"$dir/prometheus.yml" <<-YML
	global:
	  scrape_interval: 1s
	  scrape_timeout: 1s
	scrape_configs:
	  - job_name: portwatch
	    static_configs:
	      - targets: ['127.0.0.1:$SERVE_PORT']
	YML
	prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/tsdb" \
		--web.listen-address="127.0.0.1:$PROM_PORT" >"$dir/log" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	for ((i = 0; i < 300; i++)); do
		curl -sf "http://127.0.0.1:$PROM_PORT/-/ready" >/dev/null && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	setup_error "prometheus did not become ready: $(tail -5 "$dir/log")"
}

# prom_query EXPR: the value of an instant query with one result, else
# "results: N".
prom_query() {
	curl -sf --get --data-urlencode "query=$1" "http://127.0.0.1:$PROM_PORT/api/v1/query" |
		jq -r 'if (.data.result | length) == 1 then .data.result[0].value[1]
			else "results: \(.data.result | length)" end'
}

# prom_fresh [AHEAD]: bounded wait (30 s) until Prometheus holds a
# successful scrape that started AHEAD seconds (default 0) after now: its
# values include everything that happened before the call. (timestamp() of
# a selector is its sample's time; of an expression, the query's.)
prom_fresh() {
	local after ts i
	after=$(awk -v a="${1:-0}" -v t="$(date +%s.%N)" 'BEGIN { printf "%.3f", t + a }')
	for ((i = 0; i < 300; i++)); do
		ts=$(prom_query 'timestamp(up{job="portwatch"})')
		if [[ $ts =~ ^[0-9.]+$ ]] && awk -v a="$ts" -v b="$after" 'BEGIN { exit !(a > b) }'; then
			[ "$(prom_query 'up{job="portwatch"}')" = 1 ] && return 0
			echo "the scrape at $ts failed" >&2
			return 1
		fi
		sleep 0.1
	done
	echo "no successful scrape after $after (last: $ts); serve's stderr:" >&2
	cat "$SERVE_ERR" >&2
	return 1
}

# http_code ARGS...: the status code of a curl request to serve.
http_code() {
	curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@"
}

@test "curl exhausting its namespace's ports: the failures counter == curl's failures, labelled" {
	netns_new cli
	client=$NS
	cino=$(netns_inode "$client")
	netns_new srv
	server=$NS
	veth_pair "$client" pwsv0 "$server" pwsv1
	port_range "$client" 40000 40009
	mkdir "$BATS_TEST_TMPDIR/www"
	echo hello >"$BATS_TEST_TMPDIR/www/index.html"
	# HTTP/1.1 keeps the connection: curl closes first, its ports go to TIME_WAIT.
	ip netns exec "$server" python3 -m http.server -p HTTP/1.1 -b 192.0.2.2 \
		-d "$BATS_TEST_TMPDIR/www" 8000 >/dev/null 2>&1 &
	PIDS+=("$!")
	wait_sockets "$server" 1 state listening
	serve_start --ports-interval 1
	prom_start

	ok=0 failed=0
	for ((i = 0; i < 25; i++)); do
		rc=0
		ip netns exec "$client" curl -s -o /dev/null http://192.0.2.2:8000/ || rc=$?
		case $rc in
		0) ok=$((ok + 1)) ;;
		7) failed=$((failed + 1)) ;; # "Couldn't connect to server"
		*) setup_error "curl exited with $rc" ;;
		esac
	done
	echo "ok $ok, failed $failed"
	[ "$ok" -eq 10 ] || setup_error "$ok fetches succeeded, not the range's 10"
	prom_fresh

	sel="comm=\"curl\",netns=\"$cino\",daddr=\"192.0.2.2\",dport=\"8000\""
	[ "$(prom_query "sum(portwatch_port_alloc_failures_total{$sel})")" -eq "$failed" ]
	[ "$(prom_query "portwatch_port_alloc_failures_total{$sel,proto=\"tcp\",family=\"ipv4\",
		op=\"connect\",error=\"EADDRNOTAVAIL\",container=\"\"}")" -eq "$failed" ]
	# Nothing else failed in that netns, and nothing was lost.
	[ "$(prom_query "sum(portwatch_port_alloc_failures_total{netns=\"$cino\"})")" -eq "$failed" ]
	[ "$(prom_query 'portwatch_records_lost_total')" -eq 0 ]
	# The 10 ports in TIME_WAIT toward the server fill its usable 10.
	prom_fresh 1.1
	dest="netns=\"$cino\",daddr=\"192.0.2.2\",dport=\"8000\",proto=\"tcp\",family=\"ipv4\""
	[ "$(prom_query "portwatch_ephemeral_ports_in_use{$dest}")" -eq 10 ]
	[ "$(prom_query "portwatch_ephemeral_ports_usable{$dest}")" -eq 10 ]
	[ "$(prom_query "portwatch_ephemeral_port_utilization_ratio{$dest}")" = 1 ]
	[ "$(prom_query "portwatch_ephemeral_port_range_first{netns=\"$cino\"}")" -eq 40000 ]
	[ "$(prom_query "portwatch_ephemeral_port_range_last{netns=\"$cino\"}")" -eq 40009 ]
}

@test "nat-port-exhaustion: nat_clash drops == insert_failed, attributed; conntrack series == conntrack -S" {
	natlab_up nat-port-exhaustion
	serve_start
	prom_start
	prom_fresh
	natlab_run nat-port-exhaustion
	pid=$(natlab_value client_pid)
	insert_failed=$(natlab_value insert_failed)
	[ "$insert_failed" -ge 1 ] || setup_error "no SNAT clash happened"
	prom_fresh

	nat="netns=\"$NAT_NETNS\""
	clash="portwatch_drops_total{$nat,nat_class=\"nat_clash\",reason=\"NETFILTER_DROP\""
	[ "$(prom_query "sum($clash})")" -eq "$insert_failed" ]
	# Every one attributed to the client (through conntrack's original tuple).
	[ "$(prom_query "sum($clash,comm=\"sockop\"})")" -eq "$insert_failed" ]
	[ -n "$pid" ]
	# The NAT netns's conntrack statistics, as conntrack -S sums them there.
	stats=$(ip netns exec "$NATLAB_PREFIX-nat" conntrack -S)
	for k in insert_failed drop early_drop; do
		want=$(tr ' ' '\n' <<<"$stats" | awk -F= -v k="$k" '$1 == k { n += $2 } END { print n + 0 }')
		echo "$k: conntrack -S $want"
		[ "$(prom_query "portwatch_conntrack_${k}_total{$nat}")" -eq "$want" ]
	done
	[ "$(prom_query "portwatch_conntrack_insert_failed_total{$nat}")" -eq "$insert_failed" ]
	[ "$(prom_query "portwatch_conntrack_entries_limit{$nat}")" -eq \
		"$(cat /proc/sys/net/netfilter/nf_conntrack_max)" ]
	[ "$(prom_query "portwatch_conntrack_entries{$nat}")" -ge 0 ]
}

@test "1000 connections in a 1024-port range: in_use 1000, utilization as ports says, attempts 1000" {
	netns_new thou
	ino=$(netns_inode "$NS")
	port_range "$NS" 40000 41023
	ulimit -n 8192
	serve_start --ports-interval 1
	prom_start
	sockop_hold "$NS" listen 127.0.0.1 8080
	sockop_hold "$NS" connect 127.0.0.1 8080 1000
	[ "$(grep -c ' ok ' "$SOCKOP_OUT")" -eq 1000 ] || setup_error "not 1000 connections"
	PORTS_OUT=$BATS_TEST_TMPDIR/ports.json
	"$PORTWATCH" ports --json --netns "$ino" >"$PORTS_OUT"
	util=$(jq -s '[.[] | select(.type == "port" and .dport == 8080)] | if length == 1 then .[0].utilization else "rows" end' "$PORTS_OUT")
	# A scrape whose port walk came after the connections (--ports-interval 1).
	prom_fresh 1.1

	dest="netns=\"$ino\",proto=\"tcp\",family=\"ipv4\",daddr=\"127.0.0.1\",dport=\"8080\""
	[ "$(prom_query "portwatch_ephemeral_ports_in_use{$dest}")" -eq 1000 ]
	[ "$(prom_query "portwatch_ephemeral_ports_usable{$dest}")" -eq 1024 ]
	ratio=$(prom_query "portwatch_ephemeral_port_utilization_ratio{$dest}")
	echo "ratio $ratio, ports utilization $util %"
	awk -v r="$ratio" -v u="$util" 'BEGIN { d = r * 100 - u; exit !(d < 1e-9 && d > -1e-9) }'
	[ "$ratio" = 0.9765625 ]
	# The client's connects, from connect_counts, labelled while it lives.
	[ "$(prom_query "sum(portwatch_connect_attempts_total{comm=\"sockop\",netns=\"$ino\"})")" -eq 1000 ]
}

@test "promtool check metrics finds no problem in a scrape; OpenMetrics when asked for, with # EOF" {
	exhausted_ns lint
	serve_start
	sockop "$NS" connect 127.0.0.1 8080 1
	grep -q 'err 99 EADDRNOTAVAIL' "$SOCKOP_OUT" || setup_error "no failure to expose"
	curl -sf --max-time 5 "$SERVE_URL/metrics" >"$BATS_TEST_TMPDIR/scrape.txt"
	grep -q "^portwatch_port_alloc_failures_total{.*netns=\"$INO\".*} 1$" "$BATS_TEST_TMPDIR/scrape.txt"
	run promtool check metrics <"$BATS_TEST_TMPDIR/scrape.txt"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	# OpenMetrics: counters' families without _total, samples with it, # EOF last.
	curl -sf --max-time 5 -D "$BATS_TEST_TMPDIR/om.headers" \
		-H 'Accept: application/openmetrics-text; version=1.0.0' "$SERVE_URL/metrics" \
		>"$BATS_TEST_TMPDIR/om.txt"
	grep -qi '^Content-Type: application/openmetrics-text; version=1.0.0' "$BATS_TEST_TMPDIR/om.headers"
	grep -qx '# TYPE portwatch_port_alloc_failures counter' "$BATS_TEST_TMPDIR/om.txt"
	grep -qx '# TYPE portwatch_build info' "$BATS_TEST_TMPDIR/om.txt"
	[ "$(tail -n 1 "$BATS_TEST_TMPDIR/om.txt")" = "# EOF" ]
	[ "$(grep -c '^# EOF$' "$BATS_TEST_TMPDIR/om.txt")" -eq 1 ]
}

@test "bad requests get clean errors, connections beyond the bound a 503, and serve keeps serving" {
	serve_start --max-connections 4
	[ "$(http_code "$SERVE_URL/metrics")" -eq 200 ]
	[ "$(http_code "$SERVE_URL/healthz")" -eq 200 ]
	[ "$(http_code "$SERVE_URL/")" -eq 404 ]
	[ "$(http_code "$SERVE_URL/metrics/x")" -eq 404 ]
	[ "$(http_code -X POST "$SERVE_URL/metrics")" -eq 405 ]
	[ "$(http_code -X DELETE "$SERVE_URL/healthz")" -eq 405 ]
	curl -s -D - -o /dev/null -X PUT --max-time 5 "$SERVE_URL/metrics" | grep -qi '^Allow: GET, HEAD'
	# HEAD: the headers of a GET, no body.
	[ "$(curl -s -I --max-time 5 "$SERVE_URL/metrics" | grep -ci '^Content-Type: text/plain; version=0.0.4')" -eq 1 ]
	# A header over the 8 KiB bound.
	[ "$(http_code -H "X-Big: $(head -c 20000 /dev/zero | tr '\0' a)" "$SERVE_URL/metrics")" -eq 400 ]
	[ "$(http_code "$SERVE_URL/metrics")" -eq 200 ]

	# 4 idle connections hold the bound; 3 more and a scrape are refused.
	# (fds from 20: bats uses the low ones)
	exec 20<>"/dev/tcp/127.0.0.1/$SERVE_PORT" 21<>"/dev/tcp/127.0.0.1/$SERVE_PORT"
	exec 22<>"/dev/tcp/127.0.0.1/$SERVE_PORT" 23<>"/dev/tcp/127.0.0.1/$SERVE_PORT"
	for fd in 24 25 26; do
		eval "exec $fd<>/dev/tcp/127.0.0.1/$SERVE_PORT"
		read -r -t 5 line <&"$fd"
		[ "$line" = $'HTTP/1.1 503 Service Unavailable\r' ]
		eval "exec $fd>&-"
	done
	[ "$(http_code "$SERVE_URL/metrics")" -eq 503 ]
	exec 20>&- 21>&- 22>&- 23>&-
	# Their closes free the bound (bounded wait: serve sees them asynchronously).
	for ((i = 0; i < 100; i++)); do
		[ "$(http_code "$SERVE_URL/metrics")" -eq 200 ] && break
		sleep 0.1
	done
	curl -sf --max-time 5 "$SERVE_URL/metrics" >"$BATS_TEST_TMPDIR/after.txt"
	grep -qx 'portwatch_http_connections_rejected_total [1-9][0-9]*' "$BATS_TEST_TMPDIR/after.txt"
	rejected=$(awk '$1 == "portwatch_http_connections_rejected_total" { print $2 }' "$BATS_TEST_TMPDIR/after.txt")
	# The 3 idle ones, the refused scrape, and refused polls while the closes were seen.
	[ "$rejected" -eq $((4 + i)) ]
	grep -qx 'portwatch_http_connections_open 1' "$BATS_TEST_TMPDIR/after.txt"
	# SIGTERM detaches and ends it with status 0.
	kill -TERM "$SERVE_PID"
	rc=0
	wait "$SERVE_PID" || rc=$?
	[ "$rc" -eq 0 ]
}

@test "a scrape during a drop storm answers, and the drop counter == the nft rule's count" {
	storm_up
	rx=$(netns_inode "$STORM_RX")
	serve_start
	prom_start
	prom_fresh
	ok_before=$(prom_query 'sum_over_time(up{job="portwatch"}[1h])')
	storm_out=$BATS_TEST_TMPDIR/storm.out
	ip netns exec "$STORM_TX" "$SOCKOP" udp sendn 192.0.2.2 9999 "$STORM_PACKETS" >"$storm_out" &
	storm=$!
	PIDS+=("$storm")
	# Scrapes while it lasts, each answered in time.
	scrapes=0
	while kill -0 "$storm" 2>/dev/null; do
		code=$(http_code "$SERVE_URL/metrics")
		[ "$code" -eq 200 ]
		scrapes=$((scrapes + 1))
	done
	wait "$storm"
	ok_during=$(($(prom_query 'sum_over_time(up{job="portwatch"}[1h])') - ok_before))
	grep -q "sendn 192.0.2.2 9999 sent $STORM_PACKETS failed 0" "$storm_out"
	echo "scrapes during the storm: $scrapes by curl, $ok_during by Prometheus that succeeded"
	[ "$scrapes" -ge 1 ]
	[ "$ok_during" -ge 1 ]
	# Every datagram has met the rule (none in flight) before the scrape waited for.
	rule=$(storm_rule_count)
	[ "$rule" -eq "$STORM_PACKETS" ] || setup_error "the rule counted $rule of $STORM_PACKETS"
	prom_fresh
	[ "$(prom_query "sum(portwatch_drops_total{netns=\"$rx\",reason=\"NETFILTER_DROP\"})")" -eq "$rule" ]
	[ "$(prom_query 'portwatch_drops_unkeyed_total')" -eq 0 ]
	[ "$(prom_query 'portwatch_drop_records_sampled_total')" -eq 0 ]
	# For the record: the slowest collection, and Prometheus's slowest scrape (1 s is its timeout).
	echo "slowest collection $(prom_query 'max_over_time(portwatch_scrape_duration_seconds[1h])') s," \
		"slowest scrape $(prom_query 'max_over_time(scrape_duration_seconds{job="portwatch"}[1h])') s," \
		"failed scrapes $(prom_query 'count_over_time(up{job="portwatch"}[1h]) - sum_over_time(up{job="portwatch"}[1h])')"
}

@test "a process named with an escape, a quote and a newline: valid exposition, Prometheus gets the name" {
	netns_new esc
	ino=$(netns_inode "$NS")
	port_range "$NS" 40000 40001
	sockop_hold "$NS" listen 127.0.0.1 8080
	# ESC, a colour, a quote, a newline: 2 connects hold the range, the 3rd fails.
	sockop_gated "$NS" comm $'\e[31mEVIL"\n{x' connect 127.0.0.1 8080 3
	client=$GATED_PID
	serve_start
	prom_start
	release "$client"
	[ "$(grep -c ' err 99 EADDRNOTAVAIL' "$BATS_TEST_TMPDIR/gated.$client")" -eq 1 ] ||
		setup_error "the 3rd connect did not fail"
	curl -sf --max-time 5 "$SERVE_URL/metrics" >"$BATS_TEST_TMPDIR/scrape.txt"
	# No raw control byte reaches the body; promtool and Prometheus parse it.
	[ "$(grep -c $'\e' "$BATS_TEST_TMPDIR/scrape.txt" || true)" -eq 0 ]
	grep -qF 'comm="\\x1b[31mEVIL\"\n{x"' "$BATS_TEST_TMPDIR/scrape.txt"
	promtool check metrics <"$BATS_TEST_TMPDIR/scrape.txt"
	prom_fresh
	curl -sf --get --data-urlencode "query=portwatch_port_alloc_failures_total{netns=\"$ino\"}" \
		"http://127.0.0.1:$PROM_PORT/api/v1/query" >"$BATS_TEST_TMPDIR/q.json"
	# The printable bytes as they are, the escape as the text \x1b.
	[ "$(jq -r '.data.result | length' "$BATS_TEST_TMPDIR/q.json")" -eq 1 ]
	[ "$(jq -r '.data.result[0].metric.comm == "\\x1b[31mEVIL\"\n{x"' "$BATS_TEST_TMPDIR/q.json")" = true ]
	[ "$(jq -r '.data.result[0].value[1]' "$BATS_TEST_TMPDIR/q.json")" -eq 1 ]
}

@test "connect attempts by family and SYN timeouts: exact, labelled, and kept after the process exits" {
	netns_new conn
	ino=$(netns_inode "$NS")
	drop_syns "$NS" 9999
	serve_start
	prom_start
	sockop_hold "$NS" listen 127.0.0.1 8080 listen ::1 8081
	sockop_hold "$NS" connect 127.0.0.1 8080 5 connect ::1 8081 3 syncnt 1 connect 127.0.0.1 9999 2
	client=$SOCKOP_PID
	[ "$(grep -c 'connect 127.0.0.1 8080 ok' "$SOCKOP_OUT")" -eq 5 ] || setup_error "5 connects"
	[ "$(grep -c 'connect ::1 8081 ok' "$SOCKOP_OUT")" -eq 3 ] || setup_error "3 IPv6 connects"
	[ "$(grep -c 'connect 127.0.0.1 9999 err 110 ETIMEDOUT' "$SOCKOP_OUT")" -eq 2 ] ||
		setup_error "2 SYN timeouts"
	prom_fresh
	own="comm=\"sockop\",netns=\"$ino\""
	fail="portwatch_connect_failures_total{$own,family=\"ipv4\",error=\"ETIMEDOUT\",daddr=\"127.0.0.1\",dport=\"9999\"}"
	[ "$(prom_query "portwatch_connect_attempts_total{$own,family=\"ipv4\"}")" -eq 7 ]
	[ "$(prom_query "portwatch_connect_attempts_total{$own,family=\"ipv6\"}")" -eq 3 ]
	[ "$(prom_query "$fail")" -eq 2 ]
	[ "$(prom_query "sum(portwatch_connect_failures_total{netns=\"$ino\"})")" -eq 2 ]
	# The client exits; the tick deletes its connect_counts key; its series stay.
	kill -TERM "$client"
	for ((i = 0; i < 300; i++)); do
		kill -0 "$client" 2>/dev/null || break
		sleep 0.1
	done
	prom_fresh 1.1
	[ "$(prom_query "sum(portwatch_connect_attempts_total{$own})")" -eq 10 ]
	[ "$(prom_query "$fail")" -eq 2 ]
}

@test "bad options and a taken address: one line each, exit 2 or 1; --labels merges, --max-destinations bounds" {
	for bad in "--listen 127.0.0.1" "--listen ::1:9477" "--listen [127.0.0.1]:1" "--listen 1.2.3.4:0" \
		"--labels comm,bogus" "--labels ," "--max-destinations 0" "--ports-interval 0" \
		"--max-connections 2000"; do
		# shellcheck disable=SC2086 # the option and its value
		run --separate-stderr "$PORTWATCH" serve $bad
		echo "$bad: $status: $stderr"
		[ "$status" -eq 2 ]
		[ "${#stderr_lines[@]}" -eq 1 ]
		[[ $stderr == "portwatch serve: invalid ${bad%% *} "* ]]
	done
	# Two processes, 1 and 2 connects failing in an exhausted netns, and 3 destinations.
	exhausted_ns labels
	sockop_hold "$NS" listen 127.0.0.1 8082 connect 127.0.0.1 8082 1
	serve_start --labels netns --max-destinations 2 --ports-interval 1
	# The port is taken now: a second serve says so and exits 1.
	run --separate-stderr "$PORTWATCH" serve --listen "127.0.0.1:$SERVE_PORT"
	echo "$status: $stderr"
	[ "$status" -eq 1 ]
	[ "$stderr" = "portwatch: --listen: cannot listen there: Address already in use" ]
	sockop "$NS" connect 127.0.0.1 8080 1
	sockop "$NS" comm other connect 127.0.0.1 8080 2
	[ "$(grep -c 'err 99' "$SOCKOP_OUT")" -eq 2 ] || setup_error "2 failures"
	curl -sf --max-time 5 "$SERVE_URL/metrics" >"$BATS_TEST_TMPDIR/scrape.txt"
	# comm left out: both processes' failures in one series, comm empty.
	grep "^portwatch_port_alloc_failures_total{.*netns=\"$INO\"" "$BATS_TEST_TMPDIR/scrape.txt" >"$BATS_TEST_TMPDIR/fails"
	cat "$BATS_TEST_TMPDIR/fails"
	[ "$(wc -l <"$BATS_TEST_TMPDIR/fails")" -eq 1 ]
	grep -q "^portwatch_port_alloc_failures_total{comm=\"\",container=\"\",pod=\"\",k8s_namespace=\"\",netns=\"$INO\",.*} 3$" "$BATS_TEST_TMPDIR/fails"
	# 2 destinations of 127.0.0.1:8080, 2 of [::1]:8081, 1 of :8082 in the netns, and
	# others on the host: the 2 fullest are in the port series, the rest counted.
	in_use=$(grep -c '^portwatch_ephemeral_ports_in_use{' "$BATS_TEST_TMPDIR/scrape.txt")
	[ "$in_use" -eq 2 ]
	omitted=$(awk '$1 == "portwatch_ephemeral_port_destinations_omitted" { print $2 }' "$BATS_TEST_TMPDIR/scrape.txt")
	[ "$omitted" -ge 1 ]
	PORTS_OUT=$BATS_TEST_TMPDIR/ports.json
	"$PORTWATCH" ports --json >"$PORTS_OUT"
	dests=$(jq -s '[.[] | select(.type == "port") | [.netns, .proto, .family, .daddr, .dport]] | unique | length' "$PORTS_OUT")
	echo "destinations: ports says $dests, serve omitted $omitted"
	[ "$((omitted + 2))" -le "$dests" ]
}
