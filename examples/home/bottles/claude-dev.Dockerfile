# The agent image for bottles/claude-dev.md (agent_provider.dockerfile), used instead
# of the claude template's: the same image (src/providers/claude/Dockerfile) plus
# ripgrep. It must install everything the template's image does.
ARG BASE_IMAGE=node:24-bookworm
FROM ${BASE_IMAGE}
# The bottle's agent_provider.version arrives here (a Dockerfile without this
# ARG cannot take one); the default is the release the claude template pins.
ARG AGENT_VERSION=2.1.332
# build-ca.pem is always in the build context (empty unless an extra CA bundle
# was given for a TLS-inspecting proxy). It is trusted by this build only.
COPY build-ca.pem /tmp/bot-bottle-build-ca.pem
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends git curl ca-certificates procps ripgrep \
 && rm -rf /var/lib/apt/lists/*
RUN if [ -s /tmp/bot-bottle-build-ca.pem ]; then export NODE_EXTRA_CA_CERTS=/tmp/bot-bottle-build-ca.pem; fi \
 && npm install -g --no-fund --no-audit "@anthropic-ai/claude-code@${AGENT_VERSION}" \
 && npm cache clean --force \
 && rm -f /tmp/bot-bottle-build-ca.pem
RUN id node >/dev/null 2>&1 || useradd --uid 1000 --create-home --shell /bin/bash node \
 && mkdir -p /home/node/.claude /home/node/workspace \
 && chown -R node:node /home/node
WORKDIR /home/node/workspace
