# The e2e suite's agent image: what a pod next to the injected sidecar runs to act as an AI agent.
# curl and python3 (Debian's, with its standard library: urllib, ssl, json) as clients, Debian's CA
# certificates, Node.js from the base, and the project built with ALL its dependencies, dev ones
# included: the official openai and @anthropic-ai/sdk clients and undici, so a Node agent using the
# providers' SDKs runs here, and so does the fake provider (dist/e2e/fake-provider/main.js).
# Built by e2e/images/build-images.sh (buildah, on the base it makes) with the repository as context.
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm install --no-audit --no-fund --ignore-scripts --no-save
COPY tsconfig.json tsconfig.build.json ./
COPY bin bin
COPY api api
COPY lib lib
COPY sidecar sidecar
COPY webhook webhook
COPY operator operator
COPY capture capture
COPY e2e e2e
COPY bench bench
RUN npx tsc -p tsconfig.build.json && chmod +x dist/bin/chaperone.js

FROM node:20-bookworm-slim
RUN apt-get update \
  && apt-get install -y --no-install-recommends ca-certificates curl python3 \
  && rm -rf /var/lib/apt/lists/*
# A numeric non-root user with a passwd entry (os.userInfo(), getpass and ~ work) and a home.
RUN groupadd --gid 65532 agent && useradd --uid 65532 --gid 65532 --no-log-init --create-home --shell /bin/sh agent
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules node_modules
COPY --from=build /src/dist dist
RUN ln -s /app/dist/bin/chaperone.js /usr/local/bin/chaperone
USER 65532:65532
# The pods give their command; without one, a node REPL as in the node image.
CMD ["node"]
