# Built by ../build.mjs (npm run build) with node-gyp and the local Node's headers; Linux only.
{
  "targets": [
    {
      "target_name": "conn_io",
      "sources": ["conn_io.c", "conn_loop.c", "conn_direct.c", "conn_express.c", "conn_guard.c", "conn_poll.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-std=gnu11"]
    }
  ]
}
