#!/usr/bin/env bash
# Vendors the compiled NHS.UK frontend CSS (and only the icons it uses) into site/static/nhsuk/.
#   site/vendor-nhsuk.sh [VERSION]      e.g. site/vendor-nhsuk.sh 10.6.1
# The published site must make no request off the machine and work from file://, so this drops
# the Frutiger @font-face rules (their fonts load from an NHS web address; Arial is the documented
# fallback) and rewrites the icons' absolute /assets/images/ paths to paths relative to the CSS.
set -euo pipefail
version="${1:-10.6.1}"
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/static/nhsuk"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

(cd "$work" && npm pack --silent "nhsuk-frontend@$version" >/dev/null && tar xzf nhsuk-frontend-*.tgz)
package="$work/package"
css="$package/dist/nhsuk/nhsuk-frontend.min.css"

mkdir -p "$out/images"
rm -f "$out"/images/*.svg
# Drop every @font-face block, then make icon URLs relative.
sed -E -e 's/@font-face\{[^}]*\}//g' -e 's#url\(/assets/images/#url(images/#g' "$css" > "$out/nhsuk-frontend.min.css"

# Copy exactly the icons the CSS refers to.
grep -o 'url(images/[^)]*)' "$out/nhsuk-frontend.min.css" | sed -E 's/url\(images\/(.*)\)/\1/' | sort -u |
    while read -r icon; do cp "$package/dist/nhsuk/assets/images/$icon" "$out/images/$icon"; done

if grep -Eq 'https?://|url\(/' "$out/nhsuk-frontend.min.css"; then
    echo "vendored CSS still refers to an absolute or remote URL" >&2
    exit 1
fi

license="$(node -p "require('$package/package.json').license")"
cat > "$out/NOTICE.md" <<NOTE
# NHS.UK frontend $version

Vendored from the npm package \`nhsuk-frontend@$version\` (licence: $license, as declared in its
package.json) by \`site/vendor-nhsuk.sh $version\`.

Changes: the Frutiger \`@font-face\` rules are removed (the fonts load from an NHS web address and
the published site makes no request off the machine; the stylesheet falls back to Arial), and icon
URLs are made relative (\`/assets/images/\` to \`images/\`) so the site works from \`file://\`.
Only the icons the stylesheet refers to are copied.
NOTE
echo "vendored nhsuk-frontend $version into $out"
