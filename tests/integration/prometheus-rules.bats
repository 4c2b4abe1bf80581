#!/usr/bin/env bats
# The alerting and recording rules of deploy/prometheus: promtool accepts them,
# their unit tests (deploy/prometheus/tests/*.yml: input series, the exact
# alerts with labels and annotations that fire, and when none does) pass, and
# every alert is tested both ways. promtool alone: no kernel, no lock.

load lib

RULES=$TOP/deploy/prometheus/portwatch-rules.yml
RULE_TESTS=$TOP/deploy/prometheus/tests

setup() {
	host_only
	command -v promtool >/dev/null || setup_error "no promtool (Debian's prometheus; tools/deps.sh installs it)"
	python3 -c 'import yaml' || setup_error "python3-yaml is needed (tools/deps.sh installs it)"
}

@test "prometheus rules: promtool check rules accepts the file" {
	run promtool check rules "$RULES"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"SUCCESS: 17 rules found"* ]]
}

@test "prometheus rules: promtool test rules passes every test file" {
	run promtool test rules "$RULE_TESTS"/*.yml
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c '^Unit Testing: ' <<<"$output")" -eq "$(ls "$RULE_TESTS"/*.yml | wc -l)" ]
	[ "$(grep -c '^  SUCCESS$' <<<"$output")" -eq "$(ls "$RULE_TESTS"/*.yml | wc -l)" ]
}

@test "prometheus rules: every alert has for, a severity, a summary and a description, and tests that fire it and that do not" {
	python3 - "$RULES" "$RULE_TESTS"/*.yml <<'EOF'
import sys, yaml
rules, *tests = sys.argv[1:]
alerts = [r for g in yaml.safe_load(open(rules))["groups"] for r in g["rules"] if "alert" in r]
assert len(alerts) >= 10, f"only {len(alerts)} alerts"
fired, quiet = set(), set()
for path in tests:
    for t in yaml.safe_load(open(path))["tests"]:
        for a in t.get("alert_rule_test", []):
            (fired if a["exp_alerts"] else quiet).add(a["alertname"])
bad = []
for a in alerts:
    name = a["alert"]
    if "for" not in a:
        bad.append(f"{name}: no for:")
    if a.get("labels", {}).get("severity") not in ("critical", "warning", "info"):
        bad.append(f"{name}: severity is not critical, warning or info")
    for k in ("summary", "description"):
        if not a.get("annotations", {}).get(k):
            bad.append(f"{name}: no {k}")
    if name not in fired:
        bad.append(f"{name}: no test where it fires")
    if name not in quiet:
        bad.append(f"{name}: no test where it does not fire")
print("\n".join(bad))
sys.exit(1 if bad else 0)
EOF
}
