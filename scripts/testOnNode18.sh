#!/usr/bin/env bash
# The runtime promise (engines: node >=18) on Node 18 itself: builds and packs
# the package, installs the tarball into a fresh consumer folder, then runs
# scripts/smokeTest.mjs there with the Node 18 binary of the npm package
# node@18 (installed into .node-versions/18, as scripts/testOnNode.sh does).
# The contributor's tools (jest, typescript, typedoc) need Node 20+, so only
# the built package runs on 18. Usage: scripts/testOnNode18.sh
set -euo pipefail
cd "$(dirname "$0")/.."
dir=".node-versions/18"
if [ ! -x "$dir/node_modules/.bin/node" ]; then
  mkdir -p "$dir"
  echo '{"name":"node-runtime","version":"1.0.0","private":true}' > "$dir/package.json"
  npm install --prefix "$dir" --no-audit --no-fund --no-save "node@18" >/dev/null
fi
node_bin="$(pwd)/$dir/node_modules/.bin/node"
consumer="$(mktemp -d)"
trap 'rm -rf "$consumer"' EXIT
node scripts/build.mjs
npm pack --ignore-scripts --silent --pack-destination "$consumer" >/dev/null
rxjs_version="$(node -p 'require("rxjs/package.json").version')"
echo '{"name":"consumer","version":"1.0.0","private":true}' > "$consumer/package.json"
(cd "$consumer" && npm install ./rxjs-llm-stream-*.tgz "rxjs@$rxjs_version" --prefer-offline --no-audit --no-fund --ignore-scripts >/dev/null)
cp scripts/smokeTest.mjs "$consumer/smokeTest.mjs"
echo "Smoke test of the packed package on Node $("$node_bin" --version)"
(cd "$consumer" && "$node_bin" smokeTest.mjs)
