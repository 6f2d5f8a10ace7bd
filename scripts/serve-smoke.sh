#!/usr/bin/env bash
# Serves scenarios/serve/seconds-schedule.yaml with `sim serve`, runs the real backup-operator against it, and
# watches with kubectl: at least 3 Backups must be Complete within 40s in `kubectl get bks,bk -A`, plain
# `kubectl apply` must validate through the served API (a misspelt field refused), and the serve must end with the
# scenario's PASS verdict (no invariant violated).
#
# Usage: scripts/serve-smoke.sh [--skip-build]      (needs kubectl; release binaries are built unless --skip-build)
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "serve-smoke.sh: $*" >&2; exit 1; }
command -v kubectl >/dev/null || die "kubectl is not installed (Debian/Ubuntu: apt-get install kubernetes-client)"
if [ "${1:-}" != "--skip-build" ]; then
    cargo build --release --locked -q -p simulator --bin sim -p operator --bin backup-operator
fi

work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

target/release/sim serve scenarios/serve/seconds-schedule.yaml --for 45s --kubeconfig "$work/kubeconfig" \
    > "$work/serve.out" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
    grep -q '^serving ' "$work/serve.out" 2>/dev/null && break
    sleep 0.1
done
grep -q '^serving ' "$work/serve.out" || { cat "$work/serve.out"; die "sim serve did not start"; }
head -n 3 "$work/serve.out"

target/release/backup-operator run --kubeconfig "$work/kubeconfig" --metrics-addr 127.0.0.1:0 \
    --lease-namespace default --log-level warn > "$work/operator.out" 2>&1 &
pids+=($!)

kubectl=(kubectl --kubeconfig "$work/kubeconfig")
complete=0
for _ in $(seq 40); do
    sleep 1
    complete=$("${kubectl[@]}" get bk -A --no-headers 2>/dev/null | grep -c ' Complete ' || true)
    [ "$complete" -ge 3 ] && break
done
"${kubectl[@]}" get bks,bk -A
"${kubectl[@]}" get jobs,pods -A
[ "$complete" -ge 3 ] || { cat "$work/operator.out"; die "only $complete Backups Complete within 40s"; }

# Plain `kubectl apply` (validation on) works against the served API: kubectl reads the served OpenAPI v3 documents,
# finds that PATCH takes fieldValidation, and lets the server refuse a misspelt field, as a real server does.
printf '%s\n' 'apiVersion: pingcap.com/v1alpha1' 'kind: Backup' 'metadata: {name: typo, namespace: test1}' \
    'spec: {br: {cluster: c}, s3: {provider: aws, bucket: b, prefix: p}, notAField: 1}' > "$work/typo.yaml"
if applied=$("${kubectl[@]}" apply -f "$work/typo.yaml" 2>&1); then die "kubectl apply accepted an unknown field"; fi
grep -q 'strict decoding error: unknown field "spec.notAField"' <<<"$applied" || die "kubectl apply: $applied"
echo "kubectl apply validates against the served API: $applied"

# The serve ends by itself after its 45s with the verdict.
wait "${pids[0]}" && verdict=0 || verdict=$?
cat "$work/serve.out"
[ "$verdict" = 0 ] || { cat "$work/operator.out"; die "sim serve exited $verdict"; }
grep -q '^PASS ' "$work/serve.out" || die "no PASS verdict"
echo "serve-smoke.sh: $complete Backups Complete, verdict PASS"
