#!/usr/bin/env bash
# Runs the core test suite on another Node major: installs the npm package
# node@MAJOR (a Node binary from the npm registry) into .node-versions/MAJOR,
# then runs jest with that binary. Usage: scripts/testOnNode.sh 22
set -euo pipefail
major="$1"
cd "$(dirname "$0")/.."
dir=".node-versions/$major"
if [ ! -x "$dir/node_modules/.bin/node" ]; then
  mkdir -p "$dir"
  echo '{"name":"node-runtime","version":"1.0.0","private":true}' > "$dir/package.json"
  npm install --prefix "$dir" --no-audit --no-fund --no-save "node@$major" >/dev/null
fi
node_bin="$dir/node_modules/.bin/node"
echo "Core tests on Node $("$node_bin" --version)"
# The core: sources, operators, the mock server and the reliability suites; not the packaging,
# demo, CLI or browser tests, which run once on the default Node.
"$node_bin" node_modules/jest/bin/jest.js --ci \
  'spec/(untilDone|retryWithBackoff|backoff|accumulateContent|withStreamStatus|fromChatCompletion|pipeline|mockChatServer|properties|hostile|resources|from[A-Z][A-Za-z]+|openaiCompatible|providersPipeline)\.spec\.ts'
