#!/usr/bin/env bash
# The production operator against a real kube-apiserver (scripts/test-cluster.sh: etcd, kube-apiserver with RBAC and
# Pod Security admission, kube-controller-manager; no nodes):
#   1. `kubectl apply -k operator/deploy` is accepted without a warning, and the Deployment's pods pass the
#      `restricted` Pod Security level of the operator's namespace;
#   2. `sim serve` is measured against it (`sim fidelity`): the same API interactions against both, `N of M
#      behaviours identical`; a difference not listed in the README's "What differs" fails; then deleting the
#      namespace the suite used completes;
#   3. the manifests of TiDB Operator's documentation (operator/tests/fixtures/) are accepted, and nothing in them is
#      pruned or changed by the CRD schemas;
#   4. backup-operator authenticates as its ServiceAccount (the real RBAC authorizer enforces the ClusterRole: a
#      missing permission fails here), leads, and creates a Job for every Backup whose pod passes `restricted` in
#      the Backup's namespace (`baseline` for the NFS-mounting local backup), without a single forbidden request;
#      its writes keep every field of the manifests, TiDB Operator's PITR schedule gets an Unsupported
#      condition naming neither its log nor its compact template (both run; issue 15), and the documented
#      CompactBackup gets its Job;
#   5. a second operator stands by and takes over when the leader is stopped;
#   6. with `sim kubelet` playing the kubelet (each Job pod runs the real backup-manager as a local process with its
#      ServiceAccount's token, so the real RBAC authorizer enforces backup-manager's ClusterRole too, and the fake
#      br/dumpling of operator/tests/fixtures/tools writing to a directory): a br Backup and a dumpling export reach
#      Complete with their data written; deleting one cleans its data through the finalizer; a schedule every five
#      seconds (a six-field cron) creates Backups tick after tick and its GC deletes and cleans all but maxBackups;
#      deleting the namespace completes (the Backups left go with their data retained: the namespace refuses the
#      clean Jobs, and the operator logs where the data is).
#   7. a log backup runs with the fake br: its checkpoint moves, it is paused, resumed and truncated, and deleting it
#      stops its task before it goes.
# Before step 6 pods never run: the fixtures' Backups stop at Scheduled.
#
# Usage: scripts/e2e-real-apiserver.sh [--skip-build]   (needs kubectl, openssl, python3; Go to build the cluster)
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "e2e-real-apiserver.sh: $*" >&2; exit 1; }
command -v go >/dev/null || PATH=$PATH:/usr/local/go/bin
if ! command -v go >/dev/null; then
    [ "${CI:-}" = true ] && die "Go is not installed: CI must have it (the test cluster is built from Go modules)"
    echo "e2e-real-apiserver.sh: Go is not installed: skipped (the test cluster is built from Go modules)"
    exit 0
fi
command -v kubectl >/dev/null || die "kubectl is not installed (Debian/Ubuntu: apt-get install kubernetes-client)"
command -v python3 >/dev/null || die "python3 is needed"
if [ "${1:-}" != "--skip-build" ]; then
    cargo build --release --locked -q -p operator -p simulator --bin backup-operator --bin backup-manager --bin sim
fi

work=$(mktemp -d)
export TEST_CLUSTER_DIR=$work/cluster
pids=()
sim_pid=
kubelet_pid=
cleanup() {
    for pid in "${pids[@]}" $sim_pid $kubelet_pid; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    scripts/test-cluster.sh stop || true
    rm -rf "$work"
}
trap cleanup EXIT
scripts/test-cluster.sh start >/dev/null
k=(kubectl --kubeconfig "$TEST_CLUSTER_DIR/admin.kubeconfig")

# until_true SECONDS CMD...: polls CMD every half second; false if it never succeeds.
until_true() {
    local seconds=$1
    shift
    for _ in $(seq $((seconds * 2))); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.5
    done
    return 1
}

echo "-- 1. operator/deploy"
"${k[@]}" apply -k operator/deploy >"$work/apply.out" 2>&1 || { cat "$work/apply.out"; die "kubectl apply -k operator/deploy failed"; }
if grep -i warning "$work/apply.out"; then die "the API server warned about operator/deploy"; fi
pods_admitted() {
    [ "$("${k[@]}" -n backup-operator get pods -l app.kubernetes.io/name=backup-operator -o name | wc -l)" -ge 2 ]
}
if ! until_true 60 pods_admitted; then
    "${k[@]}" -n backup-operator get events >&2 || true
    die "the Deployment's pods were not admitted in namespace backup-operator (restricted)"
fi
echo "CRDs, RBAC and the Deployment accepted; its pods pass restricted Pod Security"

echo "-- 2. the simulator's fidelity (sim fidelity: sim serve against this server, before the operator runs)"
"${k[@]}" create namespace fidelity >/dev/null
target/release/sim serve scripts/fidelity-world.yaml --kubeconfig "$work/sim.kubeconfig" --namespace fidelity \
    --for 30m >"$work/sim-serve.log" 2>&1 &
sim_pid=$!
until_true 30 test -s "$work/sim.kubeconfig" || { cat "$work/sim-serve.log"; die "sim serve did not start"; }
target/release/sim fidelity --real "$TEST_CLUSTER_DIR/admin.kubeconfig" --sim "$work/sim.kubeconfig" \
    --observations "$work/fidelity.json" || die "sim fidelity: a difference the README's \"What differs\" does not list"
kill "$sim_pid" 2>/dev/null || true
"${k[@]}" delete namespace fidelity --timeout=120s >/dev/null || die "deleting namespace fidelity did not complete"
echo "namespace fidelity deleted: its Backups, Jobs and pods went with it"

echo "-- 3. TiDB Operator's documented manifests"
# The fixtures' namespaces enforce `restricted`, except where a Backup's storage is a volume type that level forbids
# (the documented local backup mounts NFS): those run in a namespace of their own at `baseline`. The documented
# ServiceAccount `tidb-backup-manager` and the PriorityClass `backup-low` the manifests name exist, as TiDB
# Operator's guide has users create them.
mkdir -p "$work/fixtures"
for f in operator/tests/fixtures/*.yaml; do
    if grep -q '^  local:' "$f"; then
        sed 's/^  namespace: test1$/  namespace: test1-local/' "$f" >"$work/fixtures/$(basename "$f")"
    else
        cp "$f" "$work/fixtures/"
    fi
done
"${k[@]}" create priorityclass backup-low --value=100 >/dev/null
for ns in test1 test2 test1-local; do
    "${k[@]}" create namespace "$ns" >/dev/null
    level=restricted
    [ "$ns" = test1-local ] && level=baseline
    "${k[@]}" label namespace "$ns" "pod-security.kubernetes.io/enforce=$level" >/dev/null
    "${k[@]}" -n "$ns" create serviceaccount tidb-backup-manager >/dev/null
done
# stored_as_sent FILE: the object of FILE holds every spec field FILE sets, with the same value.
stored_as_sent() {
    local what
    what=operator/tests/fixtures/$(basename "$1")
    "${k[@]}" create --dry-run=client -o json -f "$1" >"$work/sent.json"
    "${k[@]}" get -o json -f "$1" >"$work/stored.json"
    python3 - "$what" "$work/sent.json" "$work/stored.json" <<'EOF'
import json, sys

def missing(sent, stored, path):
    """Paths of `sent` that `stored` lacks or holds with another value."""
    if isinstance(sent, dict) and isinstance(stored, dict):
        return [p for k, v in sent.items() for p in missing(v, stored.get(k), f"{path}.{k}")]
    return [] if sent == stored else [f"{path}: sent {sent!r}, stored {stored!r}"]

name, sent, stored = sys.argv[1], *(json.load(open(p)) for p in sys.argv[2:])
problems = missing(sent.get("spec", {}), stored.get("spec", {}), "spec")
if problems:
    sys.exit(f"{name}: the API server does not hold what was sent:\n  " + "\n  ".join(problems))
EOF
}
for f in "$work"/fixtures/*.yaml; do
    what=operator/tests/fixtures/$(basename "$f")
    "${k[@]}" apply -f "$f" >"$work/fixture.out" 2>&1 || { cat "$work/fixture.out"; die "$what was refused"; }
    if grep -i warning "$work/fixture.out"; then die "the API server warned about $what"; fi
    stored_as_sent "$f"
done
echo "$(ls "$work"/fixtures/*.yaml | wc -l) manifests stored as sent"

echo "-- 4. backup-operator as its ServiceAccount"
scripts/test-cluster.sh token-kubeconfig backup-operator backup-operator "$work/operator.kubeconfig"
run_operator() { # IDENTITY PORT
    target/release/backup-operator run --kubeconfig "$work/operator.kubeconfig" --lease-namespace backup-operator \
        --identity "$1" --lease-duration 10s --metrics-addr "127.0.0.1:$2" >"$work/$1.log" 2>&1 &
    pids+=($!)
}
run_operator e2e-a 18081
until_true 30 grep -q "acquired the leader Lease" "$work/e2e-a.log" || die "operator e2e-a did not acquire the Lease"
backups=$("${k[@]}" get backups.pingcap.com -A -o jsonpath='{range .items[*]}{.metadata.namespace}/{.metadata.name}{"\n"}{end}')
[ -n "$backups" ] || die "no Backup among the fixtures"
jobs_and_pods() {
    local b ns name
    local job
    for b in $backups; do
        ns=${b%%/*} name=${b#*/}
        # A log backup's first Job starts its task: backup-<name>-log-start.
        job=backup-$name
        "${k[@]}" -n "$ns" get job "$job" >/dev/null 2>&1 || job=backup-$name-log-start
        "${k[@]}" -n "$ns" get job "$job" >/dev/null 2>&1 || return 1
        [ -n "$("${k[@]}" -n "$ns" get pods -l "job-name=$job" -o name)" ] || return 1
    done
}
if ! until_true 60 jobs_and_pods; then
    "${k[@]}" get jobs,pods,events -A >&2 || true
    tail -20 "$work/e2e-a.log" >&2
    die "not every Backup got its Job and an admitted pod"
fi
if grep -iE "forbidden|is not allowed" "$work/e2e-a.log"; then die "the operator was refused a request"; fi
echo "$(echo "$backups" | wc -l) Backups have their Job and a pod admitted by Pod Security"
# The operator's writes (finalizers, status) keep every field it does not act on, and it names them.
for f in "$work"/fixtures/*.yaml; do stored_as_sent "$f"; done
unsupported() { # NAMESPACE KIND/NAME
    "${k[@]}" -n "$1" get "$2" -o jsonpath='{.status.conditions[?(@.type=="Unsupported")].message}'
}
pitr_reported() { [ -n "$(unsupported test1 backupschedule/demo1-pitr-schedule-s3)" ]; }
until_true 30 pitr_reported || die "the PITR schedule has no Unsupported condition"
case "$(unsupported test1 backupschedule/demo1-pitr-schedule-s3)" in
*spec.logBackupTemplate* | *spec.compact*) die "the PITR schedule's log or compact template is reported unsupported" ;;
*spec.backupTemplate.cleanOption*) ;;
*) die "the PITR schedule's Unsupported condition does not name its cleanOption" ;;
esac
# The documented CompactBackup runs as the Job compact-<name>, with tikv-ctl copied in beside br.
compact_job() {
    [ "$("${k[@]}" -n test1 get job compact-demo1-compact-backup \
        -o jsonpath='{.spec.template.spec.initContainers[*].name}')" = "copy-tool copy-tikv-ctl" ] &&
        [ -n "$("${k[@]}" -n test1 get pods -l job-name=compact-demo1-compact-backup -o name)" ]
}
until_true 30 compact_job || die "the CompactBackup demo1-compact-backup did not get its Job and an admitted pod"
echo "CompactBackup demo1-compact-backup runs as Job compact-demo1-compact-backup (br and tikv-ctl copied in)"
# The schedule keeps its log backup: log-<schedule>, owned by it, named in its status.
log_backup_kept() {
    [ "$("${k[@]}" -n test1 get backupschedule demo1-pitr-schedule-s3 -o jsonpath='{.status.logBackup}')" = \
        log-demo1-pitr-schedule-s3 ] &&
        [ "$("${k[@]}" -n test1 get backup log-demo1-pitr-schedule-s3 \
            -o jsonpath='{.spec.backupMode}/{.metadata.ownerReferences[0].kind}')" = log/BackupSchedule ]
}
until_true 30 log_backup_kept || die "the PITR schedule did not create its log backup log-demo1-pitr-schedule-s3"
echo "every fixture still stored as sent after the operator's writes; the PITR schedule keeps log backup \
log-demo1-pitr-schedule-s3 and reports: $(unsupported test1 backupschedule/demo1-pitr-schedule-s3)"

echo "-- 5. leader election"
run_operator e2e-b 18082
until_true 30 grep -q "waiting for the leader Lease" "$work/e2e-b.log" || die "operator e2e-b did not stand by"
kill -TERM "${pids[0]}"
until_true 30 grep -q "acquired the leader Lease" "$work/e2e-b.log" || die "the standby did not take over"
holder=$("${k[@]}" -n backup-operator get lease backup-operator -o jsonpath='{.spec.holderIdentity}')
[ "$holder" = e2e-b ] || die "the Lease names $holder, not e2e-b"
echo "the standby took over the Lease"

echo "-- 6. Backups run to the end (sim kubelet runs each Job pod's backup-manager)"
ns=e2e-run
storage=$work/storage
mkdir -p "$storage"
"${k[@]}" create namespace $ns >/dev/null
"${k[@]}" label namespace $ns pod-security.kubernetes.io/enforce=restricted >/dev/null
"${k[@]}" -n $ns create serviceaccount backup-manager >/dev/null
"${k[@]}" -n $ns create rolebinding backup-manager --clusterrole=backup-manager \
    --serviceaccount=$ns:backup-manager >/dev/null
"${k[@]}" -n $ns create secret generic tidb-secret --from-literal=password=e2e-password >/dev/null
target/release/sim kubelet --kubeconfig "$TEST_CLUSTER_DIR/admin.kubeconfig" --manager target/release/backup-manager \
    --tools operator/tests/fixtures/tools --root "$work/kubelet" --namespace $ns >"$work/kubelet.log" 2>&1 &
kubelet_pid=$!
local_storage() { # PREFIX
    printf '  local:\n    prefix: %s\n    volume: {name: storage, emptyDir: {}}\n' "$1"
    printf '    volumeMount: {name: storage, mountPath: %s}\n' "$storage"
}
{
    printf 'apiVersion: pingcap.com/v1alpha1\nkind: Backup\nmetadata: {name: br-local, namespace: %s}\n' $ns
    printf 'spec:\n  cleanPolicy: Delete\n  serviceAccount: backup-manager\n  br: {cluster: basic}\n'
    local_storage br-local
    printf -- '---\napiVersion: pingcap.com/v1alpha1\nkind: Backup\nmetadata: {name: export-local, namespace: %s}\n' $ns
    printf 'spec:\n  cleanPolicy: Delete\n  serviceAccount: backup-manager\n'
    printf '  from: {host: basic-tidb.%s, port: 4000, user: root, secretName: tidb-secret}\n' $ns
    printf '  dumpling: {tableFilter: ["test.*"]}\n'
    local_storage export-local
    printf -- '---\napiVersion: pingcap.com/v1alpha1\nkind: BackupSchedule\nmetadata: {name: every-5s, namespace: %s}\n' $ns
    printf 'spec:\n  schedule: "*/5 * * * * *"\n  maxBackups: 2\n  backupTemplate:\n'
    printf '    cleanPolicy: Delete\n    serviceAccount: backup-manager\n    br: {cluster: basic}\n'
    local_storage scheduled | sed 's/^/  /'
} >"$work/run.yaml"
"${k[@]}" apply -f "$work/run.yaml" >"$work/run.out" 2>&1 || { cat "$work/run.out" "$work/run.yaml"; die "the step-6 manifests were refused"; }
phase() { "${k[@]}" -n $ns get backup "$1" -o jsonpath='{.status.phase}' 2>/dev/null; }
complete() { [ "$(phase br-local)" = Complete ] && [ "$(phase export-local)" = Complete ]; }
show() {
    "${k[@]}" -n $ns get backups,jobs,pods >&2 || true
    tail -30 "$work/kubelet.log" >&2
    tail -20 "$work/e2e-b.log" >&2
    for log in "$work"/kubelet/$ns/*/log; do [ -f "$log" ] && { echo "== $log" >&2; tail -5 "$log" >&2; }; done
    find "$storage" >&2
}
until_true 90 complete || { show; die "the br Backup and the dumpling export did not reach Complete"; }
[ -f "$storage/br-local/backupmeta" ] || { show; die "the br Backup's data is not in $storage/br-local"; }
[ -f "$storage/export-local/metadata" ] || { show; die "the export's data is not in $storage/export-local"; }
echo "a br Backup and a dumpling export are Complete; their data is in $storage"
"${k[@]}" -n $ns delete backup br-local --timeout=90s >/dev/null || { show; die "deleting Backup br-local did not complete"; }
[ -z "$(ls -A "$storage/br-local" 2>/dev/null)" ] || { show; die "Backup br-local is gone but its data is not"; }
echo "Backup br-local deleted: its clean Job removed its data, then the finalizer let it go"
# The schedule: every Backup it ever made, and the ones deleted by GC (their data cleaned).
seen=()
gc_done() {
    local now name
    now=$("${k[@]}" -n $ns get backups -l tidb.pingcap.com/backup-schedule=every-5s -o name)
    for name in $now; do
        [[ " ${seen[*]} " == *" ${name#*/} "* ]] || seen+=("${name#*/}")
    done
    local gone=0
    for name in "${seen[@]}"; do
        grep -qx "backup.pingcap.com/$name" <<<"$now" || gone=$((gone + 1))
    done
    [ "${#seen[@]}" -ge 5 ] && [ "$gone" -ge 2 ]
}
until_true 120 gc_done || { show; die "the schedule did not make 5 Backups with 2 deleted by GC (saw: ${seen[*]})"; }
"${k[@]}" -n $ns patch backupschedule every-5s --type merge -p '{"spec":{"pause":true}}' >/dev/null
left=$("${k[@]}" -n $ns get backups -l tidb.pingcap.com/backup-schedule=every-5s -o name)
for name in "${seen[@]}"; do
    if ! grep -qx "backup.pingcap.com/$name" <<<"$left"; then
        [ -z "$(ls -A "$storage/scheduled/$name" 2>/dev/null)" ] || { show; die "GC deleted $name but left its data"; }
    fi
done
kept=$(echo "$left" | grep -c . || true)
# maxBackups retained, and at most one more in flight when the pause came.
[ "$kept" -le 3 ] || { show; die "the schedule keeps $kept Backups with maxBackups 2"; }
echo "the schedule made ${#seen[@]} Backups tick after tick; GC deleted and cleaned all but $kept (maxBackups 2)"
"${k[@]}" delete namespace $ns --timeout=120s >/dev/null || { show; die "deleting namespace $ns did not complete"; }
# A namespace being deleted refuses the clean Jobs and the Events alike: the operator lets each Backup go with its
# data retained, and says where in its log.
grep -q 'reason="CleanSkipped".*export-local is retained' "$work/e2e-b.log" ||
    { show; die "the operator did not log where the data of export-local is retained"; }
[ -f "$storage/export-local/metadata" ] || die "the data of export-local was not retained"
echo "namespace $ns deleted: the data of its remaining Backups is retained, and the operator's log says where"
kill "$kubelet_pid" 2>/dev/null || true

echo "-- 7. A log backup: started, its checkpoint followed, paused, resumed, truncated, deleted (its task stopped first)"
ns=e2e-log
"${k[@]}" create namespace $ns >/dev/null
"${k[@]}" label namespace $ns pod-security.kubernetes.io/enforce=restricted >/dev/null
"${k[@]}" -n $ns create serviceaccount backup-manager >/dev/null
"${k[@]}" -n $ns create rolebinding backup-manager --clusterrole=backup-manager \
    --serviceaccount=$ns:backup-manager >/dev/null
target/release/sim kubelet --kubeconfig "$TEST_CLUSTER_DIR/admin.kubeconfig" --manager target/release/backup-manager \
    --tools operator/tests/fixtures/tools --root "$work/kubelet" --namespace $ns >"$work/kubelet-log.log" 2>&1 &
kubelet_pid=$!
{
    printf 'apiVersion: pingcap.com/v1alpha1\nkind: Backup\nmetadata: {name: pitr-log, namespace: %s}\n' $ns
    printf 'spec:\n  backupMode: log\n  serviceAccount: backup-manager\n  br: {cluster: basic}\n'
    printf '  env: [{name: BACKUP_CHECKPOINT_INTERVAL, value: 1s}]\n'
    local_storage pitr-log
} >"$work/log.yaml"
"${k[@]}" apply -f "$work/log.yaml" >/dev/null || die "the log Backup was refused"
field() { "${k[@]}" -n $ns get backup pitr-log -o jsonpath="{.status.$1}" 2>/dev/null; }
field_is() { [ "$(field "$1")" = "$2" ]; }
show_log() {
    "${k[@]}" -n $ns get backups,jobs,pods >&2 || true
    "${k[@]}" -n $ns get backup pitr-log -o yaml >&2 || true
    tail -30 "$work/kubelet-log.log" >&2
    for log in "$work"/kubelet/$ns/*/log; do [ -f "$log" ] && { echo "== $log" >&2; tail -5 "$log" >&2; }; done
}
first=
checkpoint_moves() {
    [ "$(field phase)" = Running ] || return 1
    local cp
    cp=$(field logCheckpointTs)
    [ -n "$cp" ] || return 1
    [ -n "$first" ] || first=$cp
    [ "$cp" != "$first" ]
}
until_true 90 checkpoint_moves || { show_log; die "the log backup did not run with a moving checkpoint"; }
[ -f "$storage/pitr-log/.fake-log-task" ] || { show_log; die "no log backup task was started"; }
echo "log backup Running from commitTs $(field commitTs); checkpoint $first -> $(field logCheckpointTs)"
"${k[@]}" -n $ns patch backup pitr-log --type merge -p '{"spec":{"logSubcommand":"log-pause"}}' >/dev/null
until_true 60 field_is phase Paused || { show_log; die "the log backup was not paused"; }
"${k[@]}" -n $ns patch backup pitr-log --type merge -p '{"spec":{"logSubcommand":"log-start"}}' >/dev/null
until_true 60 field_is phase Running || { show_log; die "the log backup was not resumed"; }
until=$(field logCheckpointTs)
"${k[@]}" -n $ns patch backup pitr-log --type merge -p "{\"spec\":{\"logTruncateUntil\":\"$until\"}}" >/dev/null
until_true 60 field_is logSuccessTruncateUntil "$until" || { show_log; die "the log was not truncated"; }
echo "paused, resumed, truncated to $until: $("${k[@]}" -n $ns get jobs -o name | tr '\n' ' ')"
"${k[@]}" -n $ns delete backup pitr-log --timeout=90s >/dev/null || { show_log; die "deleting the log Backup did not complete"; }
[ ! -f "$storage/pitr-log/.fake-log-task" ] || die "the log Backup is gone but its task still runs"
echo "log Backup deleted: its stop Job stopped the task first"
kill "$kubelet_pid" 2>/dev/null || true
"${k[@]}" delete namespace $ns --timeout=120s >/dev/null || die "deleting namespace $ns did not complete"
if grep -iE "forbidden|is not allowed" "$work/e2e-b.log" "$work"/kubelet/e2e-run/*/log "$work"/kubelet/e2e-log/*/log |
    grep -v "because it is being terminated"; then
    die "the operator or backup-manager was refused a request"
fi
echo "PASS"
