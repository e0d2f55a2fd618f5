# Sourced by .ci/run: Debian's Chromium for the `browser` tests, driven by Playwright through
# `executable_path` (Playwright's own browser download is never used). Idempotent: installs only when
# missing. Exports AAR_CHROMIUM (the path the tests launch) and PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD.
if [[ ! -x /usr/bin/chromium ]]; then
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver
fi
if ! python -c "import playwright.sync_api" >/dev/null 2>&1; then
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 python -m pip install -q "playwright>=1.45"
fi
export AAR_CHROMIUM=/usr/bin/chromium
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
mkdir -p tests/artifacts
