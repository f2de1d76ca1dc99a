#!/usr/bin/env bash
# Install the Debian 12 packages OBSY needs.
#   scripts/install-system.sh runtime   what `obsy demo` needs (a Python venv)
#   scripts/install-system.sh test      that plus the servers and browser the tests drive:
#   rabbitmq-server  message broker (the integration tests start private nodes)
#   postgresql       database (tests run a private cluster with initdb/postgres)
#   mosquitto        MQTT broker
#   chromium         headless browser for the portal's end-to-end tests
#   indi-bin         indiserver and the INDI simulator drivers (INDI backend tests)
#   kstars xvfb dbus-daemon   KStars/Ekos on a virtual display and a private session bus (EKOS backend tests)
#   python3-venv     Debian's python3 builds the venv the Ansible deployment test installs
#   astrometry.net   solve-field and build-astrometry-index (plate solving on an index the tests build)
#   openssh-server iproute2   the deployment test's hosts: network namespaces, an sshd in each
#   nginx            what the master role puts in front of the portal (not yet run by the tests)
# Extra packages can be given after the profile or in OBSY_EXTRA_PACKAGES (space separated), e.g.
#   scripts/install-system.sh test siril
#
# Idempotent and quick when everything is present (a dpkg-query, no apt-get at all).
# `apt-get update` runs only when something is missing. Uses sudo when not root.
# Starts no service: the tests start their own private servers.
set -euo pipefail

profile="${1:-test}"
[ $# -gt 0 ] && shift
PACKAGES=()
# Debian's own python3 needs python3-venv for `python -m venv`; other Pythons bring ensurepip.
if ! "${OBSY_PYTHON:-python3}" -c 'import ensurepip, venv' >/dev/null 2>&1; then
    PACKAGES+=(python3-venv python3-pip)
fi
case "$profile" in
    runtime) ;;
    test) PACKAGES+=(rabbitmq-server postgresql mosquitto chromium indi-bin kstars xvfb dbus-daemon python3-venv
                     astrometry.net openssh-server iproute2 nginx) ;;
    *) echo "install-system: unknown profile '$profile' (use runtime or test)" >&2; exit 2 ;;
esac
# shellcheck disable=SC2206
PACKAGES+=(${OBSY_EXTRA_PACKAGES:-} "$@")

missing=()
for pkg in "${PACKAGES[@]}"; do
    [ -n "$pkg" ] || continue
    status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
    if [ "$status" != "installed" ]; then
        missing+=("$pkg")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "install-system: all packages present (${PACKAGES[*]})"
    exit 0
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
        echo "install-system: need root or sudo to install: ${missing[*]}" >&2
        exit 1
    fi
    SUDO=(sudo)
fi

echo "install-system: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
echo "install-system: done"
