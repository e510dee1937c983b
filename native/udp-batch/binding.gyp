# Built by ../build.mjs (npm run build) with node-gyp and the local Node's headers; Linux only (recvmmsg).
{
  "targets": [
    {
      "target_name": "udp_batch",
      "sources": ["udp_batch.c", "udp_reader.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-std=gnu11", "-pthread"],
      "ldflags": ["-pthread"]
    }
  ]
}
