#!/usr/bin/env bash
# A real Kubernetes control plane on loopback for end-to-end tests: etcd, kube-apiserver (RBAC, ServiceAccount
# tokens, the default admission plugins incl. Pod Security) and kube-controller-manager (Job, garbage collector,
# namespace, ServiceAccount, Deployment and ReplicaSet controllers), built from Kubernetes' published Go modules (testcluster/). No nodes:
# pods stay Pending unless a test plays the kubelet.
#
#   scripts/test-cluster.sh build                 build (or reuse) target/testcluster/testcluster
#   scripts/test-cluster.sh start                 start it; prints the state directory
#   scripts/test-cluster.sh env                   prints `export KUBECONFIG=...` for the admin
#   scripts/test-cluster.sh token-kubeconfig NS SA FILE
#                                                 writes a kubeconfig that authenticates as ServiceAccount NS/SA
#   scripts/test-cluster.sh stop                  stops it and removes the state directory
#
# State lives in $TEST_CLUSTER_DIR (default target/test-cluster); ports in $TEST_CLUSTER_PORT (apiserver, default
# 16443) and $TEST_CLUSTER_ETCD_PORT (default 23790; the peer port is the next one). Needs Go (only to build),
# openssl and kubectl.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
dir=${TEST_CLUSTER_DIR:-$repo/target/test-cluster}
port=${TEST_CLUSTER_PORT:-16443}
etcd_port=${TEST_CLUSTER_ETCD_PORT:-23790}
bin_dir=$repo/target/testcluster
bin=$bin_dir/testcluster
k8s_version=v1.37.2

die() { echo "test-cluster: $*" >&2; exit 1; }

# The build is cached by the hash of the module's sources: a rerun on the same machine reuses it.
build() {
  local stamp
  stamp=$(cat "$repo"/testcluster/go.mod "$repo"/testcluster/go.sum "$repo"/testcluster/*.go | sha256sum | cut -c1-16)
  if [[ -x $bin && -f $bin_dir/stamp && $(cat "$bin_dir/stamp") == "$stamp" ]]; then
    return
  fi
  command -v go >/dev/null || PATH=$PATH:/usr/local/go/bin
  command -v go >/dev/null || die "Go is needed to build the test cluster (testcluster/); install Go 1.26 or newer"
  mkdir -p "$bin_dir"
  echo "test-cluster: building kube-apiserver, kube-controller-manager and etcd $k8s_version (first time: minutes)" >&2
  (cd "$repo/testcluster" && go build -o "$bin.tmp" \
    -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$k8s_version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37" .)
  mv "$bin.tmp" "$bin"
  echo "$stamp" >"$bin_dir/stamp"
}

kubeconfig() { # FILE USER TOKEN
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: test-cluster
  cluster:
    server: https://127.0.0.1:$port
    certificate-authority: $dir/certs/ca.crt
users:
- name: $2
  user:
    token: $3
contexts:
- name: test-cluster
  context: {cluster: test-cluster, user: $2}
current-context: test-cluster
EOF
}

wait_ready() { # WHAT LOG CMD... (the component's pid is the last in $dir/pids)
  local what=$1 log=$2 pid
  shift 2
  pid=$(tail -1 "$dir/pids")
  for _ in $(seq 1 240); do
    if "$@" >/dev/null 2>&1; then return; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -5 "$log" >&2 || true
      die "$what exited (log: $log)"
    fi
    sleep 0.5
  done
  tail -20 "$log" >&2 || true
  die "$what did not become ready in 120 s (log: $log)"
}

start() {
  [[ -f $dir/pids ]] && die "already running in $dir (scripts/test-cluster.sh stop first)"
  command -v openssl >/dev/null || die "openssl is needed"
  command -v kubectl >/dev/null || die "kubectl is needed"
  build
  rm -rf "$dir"
  mkdir -p "$dir/certs" "$dir/etcd"
  # A CA and a serving certificate for 127.0.0.1, and the key pair that signs ServiceAccount tokens.
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=test-cluster-ca \
    -keyout "$dir/certs/ca.key" -out "$dir/certs/ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj /CN=kube-apiserver -keyout "$dir/certs/apiserver.key" \
    -out "$dir/certs/apiserver.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\n' >"$dir/certs/san.ext"
  openssl x509 -req -in "$dir/certs/apiserver.csr" -CA "$dir/certs/ca.crt" -CAkey "$dir/certs/ca.key" \
    -CAcreateserial -days 2 -extfile "$dir/certs/san.ext" -out "$dir/certs/apiserver.crt" 2>/dev/null
  openssl genrsa -out "$dir/certs/sa.key" 2048 2>/dev/null
  openssl rsa -in "$dir/certs/sa.key" -pubout -out "$dir/certs/sa.pub" 2>/dev/null
  local token
  token=$(openssl rand -hex 24)
  echo "$token,admin,admin,system:masters" >"$dir/tokens.csv"
  kubeconfig "$dir/admin.kubeconfig" admin "$token"

  "$bin" etcd "$dir/etcd" "http://127.0.0.1:$etcd_port" "http://127.0.0.1:$((etcd_port + 1))" >"$dir/etcd.log" 2>&1 &
  echo $! >>"$dir/pids"
  wait_ready etcd "$dir/etcd.log" grep -q "etcd ready" "$dir/etcd.log"

  "$bin" kube-apiserver \
    --etcd-servers="http://127.0.0.1:$etcd_port" \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$port" \
    --tls-cert-file="$dir/certs/apiserver.crt" --tls-private-key-file="$dir/certs/apiserver.key" \
    --client-ca-file="$dir/certs/ca.crt" \
    --token-auth-file="$dir/tokens.csv" \
    --authorization-mode=RBAC \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$dir/certs/sa.pub" \
    --service-account-signing-key-file="$dir/certs/sa.key" \
    --service-cluster-ip-range=10.0.0.0/24 \
    --endpoint-reconciler-type=none \
    >"$dir/kube-apiserver.log" 2>&1 &
  echo $! >>"$dir/pids"
  wait_ready kube-apiserver "$dir/kube-apiserver.log" kubectl --kubeconfig "$dir/admin.kubeconfig" get --raw /readyz

  "$bin" kube-controller-manager \
    --kubeconfig="$dir/admin.kubeconfig" \
    --authentication-kubeconfig="$dir/admin.kubeconfig" --authorization-kubeconfig="$dir/admin.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port=0 --leader-elect=false \
    --controllers=job-controller,garbage-collector-controller,namespace-controller,serviceaccount-controller,serviceaccount-token-controller,deployment-controller,replicaset-controller \
    --service-account-private-key-file="$dir/certs/sa.key" --root-ca-file="$dir/certs/ca.crt" \
    >"$dir/kube-controller-manager.log" 2>&1 &
  echo $! >>"$dir/pids"
  # The ServiceAccount controller creating `default` in `default` shows the controllers are running.
  wait_ready kube-controller-manager "$dir/kube-controller-manager.log" \
    kubectl --kubeconfig "$dir/admin.kubeconfig" -n default get serviceaccount default
  echo "$dir"
}

stop() {
  [[ -f $dir/pids ]] || return 0
  # Controllers first, etcd last; each gets 10 s to stop on SIGTERM.
  tac "$dir/pids" | while read -r pid; do
    kill "$pid" 2>/dev/null || continue
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
  done
  rm -rf "$dir"
}

case ${1:-} in
  build) build ;;
  start) start ;;
  stop) stop ;;
  env) [[ -f $dir/admin.kubeconfig ]] || die "not running (scripts/test-cluster.sh start)"; echo "export KUBECONFIG=$dir/admin.kubeconfig" ;;
  token-kubeconfig)
    [[ $# -eq 4 ]] || die "usage: scripts/test-cluster.sh token-kubeconfig NAMESPACE SERVICEACCOUNT FILE"
    kubeconfig "$4" "system:serviceaccount:$2:$3" \
      "$(kubectl --kubeconfig "$dir/admin.kubeconfig" -n "$2" create token "$3" --duration=2h)"
    ;;
  *) die "usage: scripts/test-cluster.sh build|start|stop|env|token-kubeconfig NS SA FILE" ;;
esac
