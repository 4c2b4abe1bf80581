#!/usr/bin/env bats
# make bench-smoke: the benchmark harness, tiny and once, so that it cannot
# rot. It checks that every figure was produced, not how fast.

load lib

teardown() {
	pw_teardown
}

@test "bench smoke: every figure is produced, and the storm is counted exactly" {
	[ -x "$TOP/bench/run" ] && [ -x "$TOP/build/bench/connloop" ] ||
		skip "no benchmark harness here (qemu guests carry only the integration suite)"
	out=$BATS_TEST_TMPDIR/bench
	"$TOP/bench/run" --quick --out "$out"
	tsv=$out/results.tsv
	cat "$out/results.md"
	for row in "connect none rate" "connect trace rate" "connect trace-nosys rate" "connect top rate" \
		"connect serve rate" \
		"storm sender rate" "storm rule counted" "storm drops counted" \
		"storm drops cpu_per_million" "storm drops bpf_ns_per_drop" "storm drops exit_after_sigint" \
		"storm trace suppressed" "storm trace filtered" "startup portwatch attached" "memory trace rss" \
		"memory trace bpf_maps" "memory serve rss" "memory serve bpf_maps" \
		"snapshot ports time@1000" "snapshot ss time@1000" \
		"snapshot netstat time@1000" "snapshot ports rss@1000" "established ports time@2000" \
		"established ss time@2000" "established top time@2000" "established ports rss@2000" \
		"storm serve counted" "storm serve cpu_per_million" "soak serve rss_first" \
		"soak serve rss_last" "soak serve resets" "soak failures made" "soak failures counted" \
		"soak records lost"; do
		read -r fig cfg metric <<<"$row"
		[ "$(awk -F'\t' -v f="$fig" -v c="$cfg" -v m="$metric" \
			'$1 == f && $2 == c && $3 == m' "$tsv" | wc -l)" -eq 1 ] || {
			echo "missing: $row"
			return 1
		}
	done
	if command -v bpftrace >/dev/null; then
		[ "$(grep -c $'^connect\tbpftrace\t' "$tsv")" -eq 1 ]
		[ "$(grep -c $'^connect\tnoop\t' "$tsv")" -eq 1 ]
		[ "$(grep -c $'^connect\tnoop-nosys\t' "$tsv")" -eq 1 ]
		[ "$(grep -c $'^startup\tbpftrace\t' "$tsv")" -eq 1 ]
	fi
	# Both profiles: default trace runs its syscall tracepoints, --no-syscalls none.
	grep -q $'^profile\ttp_sys_exit_connect\truns\t' "$tsv"
	grep -q $'^profile-nosys\ttp_inet_sock_set_state\truns\t' "$tsv"
	! grep -q $'^profile-nosys\ttp_sys_' "$tsv"
	# The drop counts must be exact even here.
	rule=$(awk -F'\t' '$1 == "storm" && $2 == "rule" { print $4 }' "$tsv")
	ours=$(awk -F'\t' '$1 == "storm" && $2 == "drops" && $3 == "counted" { print $4 }' "$tsv")
	[ "$rule" -eq 20000 ]
	[ "$ours" -eq "$rule" ]
	served=$(awk -F'\t' '$1 == "storm" && $2 == "serve" && $3 == "counted" { print $4 }' "$tsv")
	[ "$served" -eq "$rule" ]
	# The soak: no counter went back; every failure counted or reported lost.
	soak() { awk -F'\t' -v c="$1" -v m="$2" '$1 == "soak" && $2 == c && $3 == m { print $4 }' "$tsv"; }
	[ "$(soak serve resets)" -eq 0 ]
	[ "$(soak failures made)" -gt 0 ]
	[ "$(($(soak failures counted) + $(soak records lost)))" -eq "$(soak failures made)" ]
	# The kernel's run-time statistics saw drops' program run.
	[ "$(awk -F'\t' '$3 == "bpf_ns_per_drop" { print ($4 > 0) }' "$tsv")" -eq 1 ]
	[ -s "$out/snapshot.png" ]
	# The established figure's setup: both ends of 2000 connections, 200 TIME_WAIT.
	[ "$(cat "$out/established.sockets")" = "sockets 2000 4000 200" ]
	# The results section of BENCHMARKS.md is left alone without --update.
	grep -q '<!-- results start -->' "$TOP/BENCHMARKS.md"
}
