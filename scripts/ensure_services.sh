#!/usr/bin/env bash
# Make sure PostgreSQL and Mosquitto answer on 127.0.0.1 (5432, 1883) for the test suite:
# start them if they are installed but stopped, install them from the OS packages if absent.
set -euo pipefail

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
    if ! command -v apt-get >/dev/null; then
        echo "ensure_services: $* missing and no apt-get here; install it and rerun" >&2
        exit 1
    fi
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

wait_port() {
    for _ in $(seq 1 60); do port_open "$1" && return 0; sleep 0.5; done
    echo "ensure_services: nothing answers on port $1 after 30 s" >&2
    exit 1
}

if ! port_open 5432; then
    command -v pg_ctlcluster >/dev/null || apt_install postgresql
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start
    wait_port 5432
    echo "ensure_services: started PostgreSQL $version"
fi

if ! port_open 1883; then
    command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || apt_install mosquitto
    PATH="$PATH:/usr/sbin" mosquitto -d -c /etc/mosquitto/mosquitto.conf
    wait_port 1883
    echo "ensure_services: started Mosquitto"
fi
