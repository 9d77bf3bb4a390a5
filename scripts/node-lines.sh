#!/usr/bin/env bash
# Runs test files with the README's test command on every pinned Node line of scripts/runtimes.sh
# besides the node on PATH (which `npm test` runs): the lines' own node first on PATH, so that
# what the tests spawn (examples, npm, tsx) runs on that line too.
#   npm run test:node-lines                   the files below, on each line
#   npm run test:node-lines -- --all          every test/*.test.ts, on each line
#   npm run test:node-lines -- test/x.test.ts those files, on each line
#   NODE_LINES=node-24 npm run test:node-lines   one line only
# The files below are those where Node's own HTTP, streams, fetch, test runner or module loading
# carry the behaviour (one Redis, no cluster, no browser): docs/runtimes.md says why these.
set -euo pipefail
cd "$(dirname "$0")/.."

LINES="${NODE_LINES:-node-22 node-24}"
FILES=(
  test/server.test.ts
  test/http2.test.ts
  test/heartbeat.test.ts
  test/backpressure.test.ts
  test/shutdown.test.ts
  test/resume.test.ts
  test/brokers.test.ts
  test/frameworks.test.ts
  test/client-bundle.test.ts
  test/docs.test.ts
  test/budgets.test.ts
  test/ci-env.test.ts
)
if [ "${1:-}" = "--all" ]; then
  FILES=(test/*.test.ts)
elif [ "$#" -gt 0 ]; then
  FILES=("$@")
fi

bash scripts/runtimes.sh
# The README's test command, read from package.json so that the two cannot drift.
read -r -a TEST_COMMAND <<<"$(node -p 'require("./package.json").scripts.test.replace(/ test\/\*\.test\.ts$/, "")')"
for line in $LINES; do
  bin="$PWD/.runtimes/$line/bin"
  echo "== $line: $("$bin/node" --version), ${#FILES[@]} test files"
  start=$SECONDS
  PATH="$bin:$PATH" "${TEST_COMMAND[@]}" "${FILES[@]}"
  echo "== $line: passed in $((SECONDS - start)) s"
done
