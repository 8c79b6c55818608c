# clipclap serve as a container: Debian 12, non-root, models from a mounted volume (or pulled
# into it by an init step: `entrypoint.sh pull`), SIGTERM drains requests in flight.
#   docker build -t clipclap .
#   docker run -p 8080:8080 -v $PWD/models:/models clipclap
# deploy/helm/clipclap runs it in Kubernetes; README "Search at scale with Weaviate".

FROM debian:12 AS build
WORKDIR /src
COPY scripts/setup-deps.sh scripts/
RUN apt-get update -qq && scripts/setup-deps.sh build && rm -rf /var/lib/apt/lists/*
COPY CMakeLists.txt CMakePresets.json ./
COPY cmake cmake
COPY src src
# Portable: -march=native would tie the image to the build machine's CPU. oneDNN picks its
# GEMM kernels for the CPU it runs on either way.
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCLIPCLAP_NATIVE=OFF -DCLIPCLAP_TESTS=OFF \
 && cmake --build build -j "$(nproc)" --target clipclap

FROM debian:12-slim
COPY scripts/setup-deps.sh /tmp/
RUN apt-get update -qq && /tmp/setup-deps.sh runtime && rm -rf /var/lib/apt/lists/* /tmp/setup-deps.sh \
 && useradd --system --uid 10001 --home-dir /models --shell /usr/sbin/nologin clipclap \
 && mkdir -p /models && chown clipclap /models
COPY --from=build /src/build/clipclap /usr/local/bin/clipclap
COPY deploy/docker/entrypoint.sh /usr/local/bin/entrypoint.sh
USER 10001
ENV CLIPCLAP_MODELS_DIR=/models HF_HOME=/models/hf CLIPCLAP_PORT=8080
VOLUME /models
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s CMD ["/usr/local/bin/entrypoint.sh", "health"]
# exec'd by the script: clipclap is PID 1 and takes SIGTERM itself (it drains, then exits 0).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/entrypoint.sh"]
CMD ["serve"]
