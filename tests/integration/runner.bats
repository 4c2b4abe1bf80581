#!/usr/bin/env bats
# tests/tapcheck, the verdict tests/run and tests/vmtest give each program:
# a stream that is incomplete or a program that failed is never a pass.

TAPCHECK=$BATS_TEST_DIRNAME/../tapcheck

setup() {
	[ -f "$TAPCHECK" ] || skip "tests/tapcheck is not here (a vmtest guest carries the integration tests only)"
}

# verdict RC LINES...: tapcheck's output for a stream of LINES and exit status RC.
verdict() {
	local rc=$1
	shift
	printf '%s\n' "$@" >"$BATS_TEST_TMPDIR/tap"
	awk -v name=t -v rc="$rc" -f "$TAPCHECK" "$BATS_TEST_TMPDIR/tap"
}

@test "tapcheck: a complete stream counts passed, failed and skipped; cmocka's skips (not ok, SKIP) as skips" {
	[ "$(verdict 0 '1..3' 'ok 1 - a' 'not ok 2 # SKIP b' 'ok 3 c # skip why')" = "counts 1 0 2" ]
	[ "$(verdict 1 '1..2' 'ok 1 a' 'not ok 2 b')" = "counts 1 1 0" ]
	# Numbers past 9 against a plan past 9 (compared as numbers, not strings).
	lines=('1..57')
	for i in $(seq 57); do lines+=("ok $i"); done
	[ "$(verdict 0 "${lines[@]}")" = "counts 57 0 0" ]
}

@test "tapcheck: no plan, a plan of 0, missing, repeated or extra results, a crash, a timeout, a silent exit status fail" {
	[ "$(verdict 0 'ok 1')" = "$(printf 'not ok - t: no plan (1..N) was printed\ncounts 1 1 0')" ]
	[ "$(verdict 0 '1..0')" = "$(printf 'not ok - t: the plan is 1..0: nothing ran\ncounts 0 1 0')" ]
	[ "$(verdict 0 '1..3' 'ok 1' 'ok 2')" = "$(printf 'not ok - t: planned 1..3, no result for 3\ncounts 2 1 0')" ]
	[ "$(verdict 0 '1..2' 'ok 1' 'ok 1' 'ok 2')" = "$(printf 'not ok - t: results repeated: 1\ncounts 3 1 0')" ]
	[ "$(verdict 0 '1..1' 'ok 1' 'ok 12')" = "$(printf 'not ok - t: results off the plan 1..1: 12\ncounts 2 1 0')" ]
	[ "$(verdict 134 '1..1' 'ok 1')" = "$(printf 'not ok - t: killed by signal 6\ncounts 1 1 0')" ]
	[ "$(verdict 124 '1..1' 'ok 1')" = "$(printf 'not ok - t: timed out\ncounts 1 1 0')" ]
	[ "$(verdict 3 '1..1' 'ok 1')" = "$(printf 'not ok - t: exit status 3 with no failed test\ncounts 1 1 0')" ]
}
