#!/bin/sh
# install.sh: installs what the browser tests need when it is missing:
# Debian's chromium (never a Playwright browser download) and the npm
# dev dependencies of web/ (playwright-core) from the lock file.
set -eu
web="$(cd "$(dirname "$0")/.." && pwd)"
if [ ! -x /usr/bin/chromium ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q chromium
fi
if [ ! -d "$web/node_modules/playwright-core" ]; then
	if ! command -v npm >/dev/null 2>&1; then
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -q
		apt-get install -y -q nodejs npm
	fi
	(cd "$web" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
fi
