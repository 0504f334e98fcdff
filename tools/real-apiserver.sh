#!/usr/bin/env bash
# A real Kubernetes control plane on loopback: etcd, kube-apiserver and kube-controller-manager,
# built from the Go module proxy by the wrapper modules in tools/realapi/.
#
#   tools/real-apiserver.sh build          build the binaries unless they are cached
#   tools/real-apiserver.sh up DIR         build if needed, start, wait for /readyz, write DIR/kubeconfig
#   tools/real-apiserver.sh down DIR       stop what `up DIR` started (safe to repeat)
#   tools/real-apiserver.sh status DIR     say whether DIR's control plane is up
#   tools/real-apiserver.sh pin K8S ETCD   rewrite tools/realapi/{,etcd/}go.mod for other versions
#                                          (e.g. `pin v1.37.2 v3.7.3`; maintainers only)
#
# Binaries are cached outside the clone, keyed by the versions pinned in the go.mod files:
#   ${SUIDO_CACHE:-$HOME/.cache/suido}/real-apiserver/k8s-<v>-etcd-<v>/bin/
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KUBE_MOD="$ROOT/tools/realapi"
ETCD_MOD="$ROOT/tools/realapi/etcd"
CACHE="${SUIDO_CACHE:-$HOME/.cache/suido}/real-apiserver"
# A stray go.work above the clone must not change what these modules resolve to.
export GOWORK=off

die() { echo "real-apiserver: $*" >&2; exit 1; }
say() { echo "real-apiserver: $*" >&2; }

# The version a go.mod requires of one module (a single `require` line or inside a block).
required_version() {
  sed -nE "s#^(require)?[[:space:]]*$2 (v[0-9][^ ]*).*#\\2#p" "$1" | head -n1
}

versions() {
  K8S_VERSION="$(required_version "$KUBE_MOD/go.mod" 'k8s\.io/kubernetes')"
  ETCD_VERSION="$(required_version "$ETCD_MOD/go.mod" 'go\.etcd\.io/etcd/server/v3')"
  if [ -z "$K8S_VERSION" ] || [ -z "$ETCD_VERSION" ]; then
    die "cannot read the pinned versions from tools/realapi"
  fi
  BIN="$CACHE/k8s-$K8S_VERSION-etcd-$ETCD_VERSION/bin"
}

cached() {
  [ -x "$BIN/kube-apiserver" ] && [ -x "$BIN/kube-controller-manager" ] && [ -x "$BIN/etcd" ]
}

cmd_build() {
  versions
  if cached; then
    say "cached: $BIN"
    return
  fi
  command -v go >/dev/null || die "go is required to build the binaries"
  mkdir -p "$(dirname "$BIN")"
  # Two callers (CI and a test, say) may build at once: one builds, the other waits and finds it.
  exec 9>"$(dirname "$BIN")/.lock"
  flock 9
  if cached; then
    say "cached: $BIN"
    return
  fi
  local start=$SECONDS tmp
  tmp="$(mktemp -d "$(dirname "$BIN")/bin.XXXXXX")"
  chmod 755 "$tmp"
  local major minor
  major="$(echo "$K8S_VERSION" | sed -E 's/^v([0-9]+)\..*/\1/')"
  minor="$(echo "$K8S_VERSION" | sed -E 's/^v[0-9]+\.([0-9]+)\..*/\1/')"
  # Module zips are not git archives, so without these the binaries report v0.0.0-master.
  local stamp="" pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    stamp+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
    stamp+=" -X $pkg.gitTreeState=clean"
  done
  say "building kube-apiserver and kube-controller-manager $K8S_VERSION (cold: many minutes)"
  (cd "$KUBE_MOD" && CGO_ENABLED=0 go build -p 2 -mod=readonly -trimpath \
    -tags selinux,notest,grpcnotrace -ldflags "-s -w$stamp" -o "$tmp/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager)
  say "building etcd $ETCD_VERSION"
  (cd "$ETCD_MOD" && CGO_ENABLED=0 go build -p 2 -mod=readonly -trimpath -ldflags "-s -w" \
    -o "$tmp/etcd" go.etcd.io/etcd/server/v3)
  rm -rf "$BIN"
  mv "$tmp" "$BIN"
  say "built in $((SECONDS - start)) s: $BIN"
}

# Regenerates the wrapper modules. k8s.io/kubernetes requires its staging modules at v0.0.0 and
# replaces them with ./staging paths, which a dependent module does not inherit; each must be
# replaced with the published v0.<minor>.<patch> tag. The list comes from the go.mod the proxy
# serves for that exact version, so no hand-kept list can go stale.
cmd_pin() {
  local k8s="${1:-}" etcd="${2:-}"
  if ! [[ "$k8s" =~ ^v1\.[0-9]+\.[0-9]+$ && "$etcd" =~ ^v3\.[0-9]+\.[0-9]+$ ]]; then
    die "usage: pin v1.X.Y v3.X.Y"
  fi
  local staging="v0.${k8s#v1.}" gomod m
  gomod="$(go mod download -json "k8s.io/kubernetes@$k8s" | sed -nE 's/.*"GoMod": "(.*)",?/\1/p')"
  [ -f "$gomod" ] || die "the proxy gave no go.mod for k8s.io/kubernetes@$k8s"
  # The lowest go line that k8s.io/kubernetes allows, so any toolchain it accepts builds these.
  local golang
  golang="$(sed -nE 's/^go ([0-9.]+)$/\1/p' "$gomod" | head -n1)"
  say "k8s.io/kubernetes $k8s wants go $golang"
  mkdir -p "$KUBE_MOD" "$ETCD_MOD"
  (
    cd "$KUBE_MOD"
    rm -f go.mod go.sum
    go mod init suido.dev/tools/realapi
    go mod edit -go="$golang"
    for m in $( (sed -nE 's#^[[:space:]]*(k8s\.io/[A-Za-z0-9._-]+) v0\.0\.0( // indirect)?$#\1#p' "$gomod"
                 sed -nE 's#^[[:space:]]*(k8s\.io/[A-Za-z0-9._-]+) => \./staging/.*#\1#p' "$gomod") | sort -u); do
      go mod edit -replace="$m=$m@$staging"
    done
    # `tool` lines keep `go mod tidy` from dropping the requirement on k8s.io/kubernetes.
    go get -tool "k8s.io/kubernetes/cmd/kube-apiserver@$k8s" "k8s.io/kubernetes/cmd/kube-controller-manager@$k8s"
    go mod tidy
  )
  (
    cd "$ETCD_MOD"
    rm -f go.mod go.sum
    go mod init suido.dev/tools/realapi/etcd
    go mod edit -go="$golang"
    go get -tool "go.etcd.io/etcd/server/v3@$etcd"
    go mod tidy
  )
  say "pinned k8s $k8s (staging $staging) and etcd $etcd"
}

# --- running ----------------------------------------------------------------------------------

# Absolute DIR, created if needed.
state_dir() {
  [ -n "${1:-}" ] || die "usage: $0 up|down|status DIR"
  mkdir -p "$1"
  (cd "$1" && pwd)
}

# The pid in DIR/NAME.pid if that process is alive and is ours: its command line names DIR, so a
# recycled pid is never signalled.
live_pid() {
  local dir="$1" name="$2" pid
  [ -f "$dir/$name.pid" ] || return 1
  pid="$(cat "$dir/$name.pid")"
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$dir/" || return 1
  echo "$pid"
}

port_free() {
  ! ss -Htln "sport = :$1" 2>/dev/null | grep -q . && ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Sets the variable named $1 to a free loopback port below the kernel's ephemeral range, one
# not handed out before in this run (none of them is bound until the servers start).
TAKEN=" "
free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 12000))
    case "$TAKEN" in *" $p "*) continue ;; esac
    if port_free "$p"; then
      TAKEN+="$p "
      printf -v "$1" '%s' "$p"
      return
    fi
  done
  die "no free loopback port found"
}

# Keys and certificates, made once per DIR so that tokens stay valid across down/up.
make_pki() {
  local pki="$1/pki"
  [ -f "$pki/.complete" ] && return
  mkdir -p "$pki"
  chmod 700 "$pki"
  (
    cd "$pki"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
      -subj "/CN=suido-real-apiserver-ca" -keyout ca.key -out ca.crt 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
      -subj "/CN=kube-apiserver" -keyout apiserver.key -out apiserver.csr 2>/dev/null
    printf '%s\n' \
      "subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local" \
      "extendedKeyUsage=serverAuth" "keyUsage=critical,digitalSignature,keyEncipherment" >apiserver.ext
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile apiserver.ext -out apiserver.crt 2>/dev/null
    # ServiceAccount tokens: the apiserver signs with sa.key and verifies with sa.pub.
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out sa.key 2>/dev/null
    openssl pkey -in sa.key -pubout -out sa.pub
    rm -f apiserver.csr apiserver.ext ca.srl
    touch .complete
  )
  local admin kcm
  admin="$(openssl rand -hex 32)"
  kcm="$(openssl rand -hex 32)"
  # token,user,uid,"groups"
  printf '%s\n' "$admin,admin,admin,\"system:masters\"" \
    "$kcm,system:kube-controller-manager,system:kube-controller-manager" >"$pki/tokens.csv"
  echo "$admin" >"$pki/admin.token"
  echo "$kcm" >"$pki/kcm.token"
  chmod 600 "$pki"/*.key "$pki"/*.token "$pki/tokens.csv"
}

write_kubeconfig() {
  local file="$1" url="$2" ca="$3" user="$4" token="$5"
  (
    umask 077
    cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: real-apiserver
  cluster:
    server: $url
    certificate-authority-data: $(base64 -w0 <"$ca")
users:
- name: $user
  user:
    token: $token
contexts:
- name: real-apiserver
  context:
    cluster: real-apiserver
    user: $user
current-context: real-apiserver
EOF
  )
}

# Starts NAME detached from the caller's session (so the caller's exit or Ctrl-C leaves it
# running until `down`), logging to DIR/logs/NAME.log.
start() {
  local dir="$1" name="$2"
  shift 2
  mkdir -p "$dir/logs"
  echo "=== $(date -u +%FT%TZ) real-apiserver.sh starts $name" >>"$dir/logs/$name.log"
  setsid "$@" >>"$dir/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$dir/$name.pid"
}

wait_for() {
  local what="$1" timeout="$2" name="$3" dir="$4"
  shift 4
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    live_pid "$dir" "$name" >/dev/null || die "$name exited while waiting for $what; see $dir/logs/$name.log"
    [ $SECONDS -lt $deadline ] || die "$what not reached within ${timeout}s; see $dir/logs/$name.log"
    sleep 0.2
  done
}

readyz() {
  [ "$(curl -sS --max-time 2 --cacert "$1/pki/ca.crt" -H "Authorization: Bearer $(cat "$1/pki/admin.token")" \
    "https://127.0.0.1:$2/readyz")" = ok ]
}

api_port() {
  sed -n 's/^APISERVER_PORT=//p' "$1/ports.env"
}

all_up() {
  local dir="$1"
  live_pid "$dir" etcd >/dev/null && live_pid "$dir" kube-apiserver >/dev/null \
    && live_pid "$dir" kube-controller-manager >/dev/null && [ -f "$dir/ports.env" ] \
    && readyz "$dir" "$(api_port "$dir")"
}

cmd_up() {
  local dir
  dir="$(state_dir "${1:-}")"
  if all_up "$dir"; then
    say "already up: https://127.0.0.1:$(api_port "$dir"); KUBECONFIG=$dir/kubeconfig"
    return
  fi
  cmd_down "$dir" >/dev/null 2>&1 # whatever half of a previous run is left
  cmd_build
  command -v openssl >/dev/null || die "openssl is required"
  local t0=$SECONDS
  # A failed start leaves nothing running.
  # shellcheck disable=SC2064 # dir is expanded now, on purpose
  trap "cmd_down $(printf %q "$dir") >/dev/null 2>&1" EXIT
  make_pki "$dir"
  local etcd_port peer_port apiserver_port
  free_port etcd_port
  free_port peer_port
  free_port apiserver_port
  printf 'ETCD_PORT=%s\nETCD_PEER_PORT=%s\nAPISERVER_PORT=%s\n' "$etcd_port" "$peer_port" "$apiserver_port" >"$dir/ports.env"
  local url="https://127.0.0.1:$apiserver_port" pki="$dir/pki"
  write_kubeconfig "$dir/kubeconfig" "$url" "$pki/ca.crt" admin "$(cat "$pki/admin.token")"
  write_kubeconfig "$dir/kube-controller-manager.kubeconfig" "$url" "$pki/ca.crt" \
    system:kube-controller-manager "$(cat "$pki/kcm.token")"

  # --unsafe-no-fsync: a test store, as envtest runs it; losing it on a crash is fine.
  start "$dir" etcd "$BIN/etcd" --name=default --data-dir="$dir/etcd" \
    --listen-client-urls="http://127.0.0.1:$etcd_port" --advertise-client-urls="http://127.0.0.1:$etcd_port" \
    --listen-peer-urls="http://127.0.0.1:$peer_port" --initial-advertise-peer-urls="http://127.0.0.1:$peer_port" \
    --initial-cluster="default=http://127.0.0.1:$peer_port" --unsafe-no-fsync=true
  wait_for "etcd /health" 30 etcd "$dir" curl -sf --max-time 2 "http://127.0.0.1:$etcd_port/health"

  # Every request is audited at Metadata level (who, verb, resource, subresource, answer) into
  # DIR/audit.log: the RBAC test reads there which verbs the operator really uses.
  printf '%s\n' 'apiVersion: audit.k8s.io/v1' 'kind: Policy' 'omitStages: ["RequestReceived"]' \
    'rules:' '  - level: Metadata' >"$dir/audit-policy.yaml"
  # --advertise-address: without it the apiserver looks for a default route, which may not exist.
  # A loopback advertise address is refused by the endpoint reconciler (a fatal error in 1.37),
  # and nothing here reaches the apiserver through the `kubernetes` Service, so reconcile none.
  # The issuer does not depend on the port, so ServiceAccount tokens survive a down/up.
  start "$dir" kube-apiserver "$BIN/kube-apiserver" \
    --etcd-servers="http://127.0.0.1:$etcd_port" \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$apiserver_port" \
    --endpoint-reconciler-type=none \
    --cert-dir="$pki" --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
    --client-ca-file="$pki/ca.crt" --token-auth-file="$pki/tokens.csv" \
    --authorization-mode=RBAC \
    --audit-policy-file="$dir/audit-policy.yaml" --audit-log-path="$dir/audit.log" \
    --audit-log-maxsize=200 --audit-log-maxbackup=1 \
    --service-cluster-ip-range=10.0.0.0/24 --allow-privileged=true \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key"
  wait_for "kube-apiserver /readyz" 120 kube-apiserver "$dir" readyz "$dir" "$apiserver_port"
  local ready=$((SECONDS - t0))

  # Only the controllers that an API-only cluster misses: namespace deletion, garbage collection,
  # ServiceAccounts and their tokens, the kube-root-ca.crt ConfigMap, ClusterRole aggregation.
  # Each controller runs as its own ServiceAccount in kube-system, as in kubeadm clusters.
  start "$dir" kube-controller-manager "$BIN/kube-controller-manager" \
    --kubeconfig="$dir/kube-controller-manager.kubeconfig" \
    --authentication-kubeconfig="$dir/kube-controller-manager.kubeconfig" \
    --authorization-kubeconfig="$dir/kube-controller-manager.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port=0 --leader-elect=false \
    --controllers=namespace-controller,garbage-collector-controller,serviceaccount-controller,serviceaccount-token-controller,clusterrole-aggregation-controller,root-ca-certificate-publisher-controller \
    --use-service-account-credentials=true \
    --service-account-private-key-file="$pki/sa.key" --root-ca-file="$pki/ca.crt"
  # The default ServiceAccount appears once the controllers run; Pods need it.
  wait_for "the default ServiceAccount" 60 kube-controller-manager "$dir" \
    kubectl --kubeconfig="$dir/kubeconfig" get serviceaccount default -n default
  trap - EXIT
  say "up in $((SECONDS - t0)) s (/readyz after ${ready} s): $url"
  echo "export KUBECONFIG=$dir/kubeconfig"
}

stop() {
  local dir="$1" name="$2" pid
  if pid="$(live_pid "$dir" "$name")"; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
      [ -d "/proc/$pid" ] || break
      sleep 0.1
    done
    if [ -d "/proc/$pid" ]; then
      say "$name did not stop in 10 s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    say "stopped $name ($pid)"
  fi
  rm -f "$dir/$name.pid"
}

cmd_down() {
  [ -n "${1:-}" ] || die "usage: $0 down DIR"
  [ -d "$1" ] || { say "nothing in $1"; return; }
  local dir
  dir="$(cd "$1" && pwd)"
  stop "$dir" kube-controller-manager
  stop "$dir" kube-apiserver
  stop "$dir" etcd
  say "down: $dir"
}

cmd_status() {
  local dir
  dir="$(state_dir "${1:-}")"
  if all_up "$dir"; then
    echo "up: https://127.0.0.1:$(api_port "$dir")"
  else
    echo "down"
    return 1
  fi
}

case "${1:-}" in
  build) cmd_build ;;
  up) cmd_up "${2:-}" ;;
  down) cmd_down "${2:-}" ;;
  status) cmd_status "${2:-}" ;;
  pin) cmd_pin "${2:-}" "${3:-}" ;;
  *) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
