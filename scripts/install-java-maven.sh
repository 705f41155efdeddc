#!/bin/sh
# The time-skipping test server (whenflow test --time-skipping, createTestEnvironment({ timeSkipping: true }))
# runs on Java and is fetched once with Maven. Installs both from Debian packages when they are missing.
set -e
if command -v java >/dev/null 2>&1 && command -v mvn >/dev/null 2>&1; then
  echo "java and mvn found: $(command -v java), $(command -v mvn)"
  exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends default-jre-headless maven
