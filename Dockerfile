# syntax=docker/dockerfile:1
# Build stage: the release binary (SQLite and libpq are compiled in from source).
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock rustfmt.toml build.rs ./
COPY src ./src
COPY migrations ./migrations
COPY config ./config
COPY tests ./tests
COPY benches ./benches
COPY web ./web
RUN cargo build --release --locked --bin clearway

# Runtime stage: a slim image, a non-root user, nothing but the binary.
FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /app --create-home clearway
WORKDIR /app
COPY --from=build /src/target/release/clearway /usr/local/bin/clearway
USER clearway
# Production also needs CLEARWAY__AUTH__JWT_SECRET, CLEARWAY__DATABASE__URL and
# CLEARWAY__SERVER__PUBLIC_URL at run time (docker-compose.yml sets them).
ENV CLEARWAY_PROFILE=production \
    CLEARWAY__SERVER__HOST=0.0.0.0 \
    CLEARWAY__SERVER__PORT=8080
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["clearway", "healthcheck"]
ENTRYPOINT ["clearway"]
CMD ["serve"]
