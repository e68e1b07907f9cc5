#!/bin/sh
# This container's own host key, then sshd in the foreground logging to
# stderr (docker logs), on the port the test asked for.
set -eu
ssh-keygen -q -t ed25519 -N '' -C '' -f /etc/ssh/ssh_host_ed25519_key
mkdir -p /run/sshd
exec /usr/sbin/sshd -D -e -f /etc/ssh/sshd_config.upstream -p "${SSH_PORT:-22}"
