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

# readme_configs: the yaml blocks of README.md's section on Prometheus, as
# $BATS_TEST_TMPDIR/config1.yml, config2.yml, with the rules from the tree.
readme_configs() {
	awk -v dir="$BATS_TEST_TMPDIR" '
		/^### Scraping and alerting with Prometheus/ { in_section = 1; next }
		/^#/ { in_section = 0 }
		in_section && /^```yaml$/ { n++; out = dir "/config" n ".yml"; next }
		out && /^```$/ { out = ""; next }
		out { print > out }' "$TOP/README.md"
	[ -e "$BATS_TEST_TMPDIR/config2.yml" ] && [ ! -e "$BATS_TEST_TMPDIR/config3.yml" ] ||
		setup_error "README.md's section has not 2 yaml blocks"
	sed -i "s|/etc/prometheus/portwatch-rules.yml|$RULES|" "$BATS_TEST_TMPDIR"/config*.yml
}

@test "prometheus rules: promtool check config accepts README.md's static scrape configuration with the rules" {
	readme_configs
	grep -qF "$RULES" "$BATS_TEST_TMPDIR/config1.yml"
	grep -qx '  - job_name: portwatch' "$BATS_TEST_TMPDIR/config1.yml"
	promtool check config "$BATS_TEST_TMPDIR/config1.yml"
}

@test "prometheus rules: README.md's Kubernetes scrape configuration finds the DaemonSet's pods and scrapes node:9477/metrics" {
	# Debian's promtool is built without Kubernetes discovery ("field
	# kubernetes_sd_configs not found"): the relabeling is played here, as
	# Prometheus applies it, on the target a DaemonSet pod makes.
	readme_configs
	python3 - "$BATS_TEST_TMPDIR/config2.yml" "$TOP/deploy/kubernetes/portwatch.yaml" "$RULES" <<'EOF'
import re, sys, yaml
cfg = yaml.safe_load(open(sys.argv[1]))
ds = [d for d in yaml.safe_load_all(open(sys.argv[2])) if d and d["kind"] == "DaemonSet"][0]
assert cfg["rule_files"] == [sys.argv[3]], cfg["rule_files"]
job, = cfg["scrape_configs"]
assert job["job_name"] == "portwatch"
sd, = job["kubernetes_sd_configs"]
assert sd["role"] == "pod"
assert sd["namespaces"]["names"] == [ds["metadata"]["namespace"]]
labels = ds["spec"]["template"]["metadata"]["labels"]
sel, = sd["selectors"]
assert sel["role"] == "pod"
k, v = sel["label"].split("=")
assert labels[k] == v, sel
# The targets of a pod on a node at 10.0.0.5 (hostNetwork: the pod's
# address is the node's), with and without its declared port, and the meta
# labels discovery gives them; the path starts as other than /metrics so
# that the annotation must set it.
c = ds["spec"]["template"]["spec"]["containers"][0]
for addr in ("10.0.0.5", "10.0.0.5:%d" % c["ports"][0]["containerPort"]):
    t = {"__address__": addr, "__metrics_path__": "/default",
         "__meta_kubernetes_pod_node_name": "node-a"}
    for a, val in ds["spec"]["template"]["metadata"]["annotations"].items():
        t["__meta_kubernetes_pod_annotation_" + re.sub("[^a-zA-Z0-9_]", "_", a)] = val
    for r in job["relabel_configs"]:
        for l in r["source_labels"]:
            assert l in t, "no such label on the target: " + l
        val = ";".join(t[l] for l in r["source_labels"])
        m = re.fullmatch(r.get("regex", "(.*)"), val)
        if r.get("action", "replace") == "keep":
            assert m, "the pod is not kept: " + val
        elif m:
            t[r["target_label"]] = m.expand(re.sub(r"\$(\d+)", r"\\\1", r.get("replacement", "$1")))
    got = (t["__address__"], t["__metrics_path__"], t["node"])
    assert got == ("10.0.0.5:9477", "/metrics", "node-a"), got
EOF
}
