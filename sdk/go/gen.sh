#!/usr/bin/env bash
# Generate the Go types of VCoin's messages (sdk/go/gen/vcoin/<module>/v1/*.pb.go)
# from proto/vcoin/<module>/v1/*.proto, or with --check fail when the committed
# code differs from a fresh generation.
#
#   sdk/go/gen.sh            # rewrite sdk/go/gen/
#   sdk/go/gen.sh --check    # exit 1, naming the files, if sdk/go/gen/ is stale
#
# protoc is grpcio-tools' (`python -m grpc_tools.protoc`, from the repo's
# .venv or $VCOIN_PYTHON); protoc-gen-go is built from the version go.mod pins
# (google.golang.org/protobuf), so the output depends only on locked versions.
# Cosmos' own types are not copied into the tree: as scripts/protogen does,
# cosmos/base/v1beta1/coin.proto (and what it imports) is taken from cosmpy's
# generated descriptors and handed to protoc as a descriptor set, and the Go
# import of coin.proto is mapped to cosmossdk.io/api/cosmos/base/v1beta1, whose
# Coin the generated VCoin messages then use.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
py=${VCOIN_PYTHON:-$repo/.venv/bin/python}
check=0
case "${1:-}" in
  --check) check=1 ;;
  "") ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac
if [ ! -x "$py" ]; then
  echo "gen.sh: no Python at $py (run scripts/setup, or set VCOIN_PYTHON)" >&2
  exit 2
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mod=$(cd "$here" && go list -m)
(cd "$here" && go build -o "$tmp/protoc-gen-go" google.golang.org/protobuf/cmd/protoc-gen-go)

"$py" - "$tmp/deps.pb" <<'EOF'
import importlib, sys
from google.protobuf import descriptor_pb2
fds = descriptor_pb2.FileDescriptorSet()
seen = set()
def add(fd):
    if fd.name in seen:
        return
    seen.add(fd.name)
    for dep in fd.dependencies:
        add(dep)
    p = descriptor_pb2.FileDescriptorProto()
    fd.CopyToProto(p)
    fds.file.append(p)
add(importlib.import_module("cosmpy.protos.cosmos.base.v1beta1.coin_pb2").DESCRIPTOR)
open(sys.argv[1], "wb").write(fds.SerializeToString())
EOF

cd "$repo/proto"
mapfile -t files < <(find vcoin -name '*.proto' | LC_ALL=C sort)
opts=("--go_opt=module=$mod"
      "--go_opt=Mcosmos/base/v1beta1/coin.proto=cosmossdk.io/api/cosmos/base/v1beta1;basev1beta1")
for f in "${files[@]}"; do
  dir=$(dirname "$f")                       # vcoin/jobs/v1
  m=$(basename "$(dirname "$dir")")         # jobs
  opts+=("--go_opt=M$f=$mod/gen/$dir;${m}v1")
done
mkdir -p "$tmp/out"
"$py" -m grpc_tools.protoc --proto_path=. --descriptor_set_in="$tmp/deps.pb" \
  --plugin=protoc-gen-go="$tmp/protoc-gen-go" --go_out="$tmp/out" "${opts[@]}" "${files[@]}"

if [ "$check" = 0 ]; then
  rm -rf "$here/gen"
  cp -r "$tmp/out/gen" "$here/gen"
  (cd "$here" && find gen -name '*.go' | LC_ALL=C sort | sed 's/^/wrote sdk\/go\//')
  exit 0
fi
if diff -r "$tmp/out/gen" "$here/gen" >"$tmp/diff" 2>&1; then
  echo "gen.sh: sdk/go/gen matches proto/ (${#files[@]} files)"
  exit 0
fi
cat "$tmp/diff" | head -40 >&2
echo "gen.sh: sdk/go/gen differs from what proto/ generates; run sdk/go/gen.sh and commit the result" >&2
exit 1
