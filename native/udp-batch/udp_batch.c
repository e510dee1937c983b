/*
 * udp_batch: a UDP receive socket for Node that keeps reading while JavaScript is busy.
 *
 * Why: Node's dgram delivers one datagram per libuv read and per JS callback, with a new Buffer
 * each time (~4 us per datagram), and reads nothing while the event loop is blocked (GC, a big
 * scrape). A small datagram costs ~830 bytes of socket-buffer truesize, so 4 MiB of SO_RCVBUF
 * (8 MiB as granted) holds ~10,000 datagrams: 100 ms at 100,000/s. Here a reader thread drains the
 * socket with recvmmsg(2) (`batch` datagrams per system call) into a user-space ring of compact
 * records (4-byte length + bytes: a single-line datagram takes ~28 bytes, not ~830), and wakes
 * the event loop with uv_async_send; JS is called once per chunk of records.
 *
 * Ring: one ArrayBuffer shared with JS, single producer (reader thread) and single consumer
 * (event-loop thread). head/tail are byte counters that only grow; position = counter % size.
 * A record is [u32 len][len bytes][pad to 4]; len TRUNCATED means a datagram longer than `slot`
 * (no bytes follow), len WRAP means "continue at position 0". When the ring is full the datagram
 * is dropped and counted (ringDrops): JS has not read for seconds.
 *
 * JS API (plain Node-API):
 *   open({family: 4|6, host, port, rcvbuf, batch, slot, ring, coalesceUs, onData})
 *     -> {handle, port, ring: ArrayBuffer, rcvbuf}
 *     onData(start, bytes, kernelDrops, ringDrops): records fill ring[start, start+bytes) (never
 *     wrapped, never WRAP); start < 0 is a libuv error code instead. kernelDrops: the socket's
 *     drop total (SO_MEMINFO), read whenever the reader has drained the socket.
 *   close(handle): stops the reader, closes the fd (idempotent).
 */
#define _GNU_SOURCE
#include "udp_batch.h"

static napi_value throw_errno(napi_env env, int err, const char *what) {
  char msg[160];
  const char *name = uv_err_name(uv_translate_sys_error(err));
  snprintf(msg, sizeof msg, "%s %s: %s", what, name, strerror(err));
  napi_throw_error(env, name, msg); /* .code is the errno name, as on Node's own socket errors */
  return NULL;
}

static void free_receiver(receiver *r) {
  free(r->scratch);
  free(r->msgs);
  free(r->iov);
  free(r);
}
static void release(receiver *r) {
  if (--r->owners == 0) free_receiver(r);
}
static void on_uv_closed(uv_handle_t *h) { release((receiver *)h); }
static void on_handle_gc(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  release((receiver *)data);
}

/* ---- event-loop thread ---- */

static int call_js(receiver *r, double start, double bytes) {
  napi_env env = r->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return 0;
  napi_value cb, resource, argv[4], result;
  napi_get_reference_value(env, r->cb_ref, &cb);
  napi_get_reference_value(env, r->resource_ref, &resource);
  napi_create_double(env, start, &argv[0]);
  napi_create_double(env, bytes, &argv[1]);
  napi_create_uint32(env, atomic_load(&r->kernel_drops), &argv[2]);
  napi_create_double(env, atomic_load(&r->ring_drops), &argv[3]);
  /* make_callback (not call_function): microtasks and async hooks run as after any I/O callback. */
  if (napi_make_callback(env, r->actx, resource, cb, 4, argv, &result) != napi_ok) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value err;
      napi_get_and_clear_last_exception(env, &err);
      napi_fatal_exception(env, err); /* → 'uncaughtException', as a throwing dgram handler would */
    }
  }
  napi_close_handle_scope(env, scope);
  return !r->closed;
}

static void on_async(uv_async_t *a) {
  receiver *r = (receiver *)a;
  if (r->closed) return;
  int err = atomic_exchange(&r->error, 0);
  if (err != 0 && !call_js(r, err, 0)) return;
  uint64_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
  uint64_t h = atomic_load_explicit(&r->head, memory_order_acquire);
  uint32_t len;
  if (t < h) {
    memcpy(&len, r->ring + t % r->ring_size, 4);
    if (len == WRAP) t += r->ring_size - t % r->ring_size; /* a record always follows its marker */
  }
  /* One contiguous run of whole records, at most CHUNK bytes; the rest after the loop's other events. */
  size_t start = t % r->ring_size, pos = start;
  while (t < h && pos - start < CHUNK) {
    memcpy(&len, r->ring + pos, 4);
    if (len == WRAP) break;
    size_t adv = 4 + (len == TRUNCATED ? 0 : ((size_t)len + 3) & ~(size_t)3);
    pos += adv;
    t += adv;
    if (pos == r->ring_size) break;
  }
  uint32_t kd = atomic_load(&r->kernel_drops);
  double rd = atomic_load(&r->ring_drops);
  if (pos > start || kd != r->told_kernel_drops || rd != r->told_ring_drops) {
    r->told_kernel_drops = kd;
    r->told_ring_drops = rd;
    if (!call_js(r, (double)start, (double)(pos - start))) return;
  }
  atomic_store_explicit(&r->tail, t, memory_order_release);
  if (t < h) uv_async_send(&r->async);
}

/* Stop the reader and close the socket now; memory goes when libuv lets go of the handle (`closed_cb`). */
static void shutdown_receiver(receiver *r, int release_js, uv_close_cb closed_cb) {
  if (r->closed) return;
  r->closed = 1;
  if (r->started) {
    uint64_t one = 1;
    if (write(r->efd, &one, sizeof one) < 0) { /* cannot fail for a fresh eventfd; nothing else to do */
    }
    pthread_join(r->thread, NULL);
  }
  close(r->fd);
  close(r->efd);
  if (release_js) {
    napi_delete_reference(r->env, r->ring_ref);
    napi_delete_reference(r->env, r->cb_ref);
    napi_delete_reference(r->env, r->resource_ref);
    napi_async_destroy(r->env, r->actx);
  }
  uv_close((uv_handle_t *)&r->async, closed_cb);
}

/*
 * The environment is going away (a worker ending). A worker's addon may be unloaded before its loop finishes closing
 * handles, so this close gets no callback into this file (that was a SIGSEGV), and the receiver stays allocated: libuv
 * still links its handle until then, and the JS handle's finalizer must not free it.
 */
static void cleanup_hook(void *arg) {
  receiver *r = arg;
  r->owners++;
  shutdown_receiver(r, 0, NULL);
}

/* ---- JS entry points ---- */

/* An optional uint32 property; absent → dflt. 0 on a wrong type. */
static int get_u32(napi_env env, napi_value obj, const char *key, uint32_t dflt, uint32_t *out) {
  napi_value v;
  napi_valuetype t;
  if (napi_get_named_property(env, obj, key, &v) != napi_ok || napi_typeof(env, v, &t) != napi_ok) return 0;
  if (t == napi_undefined) {
    *out = dflt;
    return 1;
  }
  return napi_get_value_uint32(env, v, out) == napi_ok;
}

#define FAIL(what)                                                                          \
  do {                                                                                      \
    napi_throw_error(env, "PODKIT_ERR_NATIVE", "udp_batch: Node-API call failed: " what); \
    goto fail;                                                                              \
  } while (0)
#define TRY(call) \
  if ((call) != napi_ok) FAIL(#call)

static napi_value open_receiver(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value opts, cb, host_v, ring_ab, resource, name, result, ext, v;
  napi_valuetype t;
  char host[64];
  size_t host_len = 0;
  uint32_t family, port, rcvbuf, batch, slot, ring, coalesce_us;
  if (napi_get_cb_info(env, info, &argc, &opts, NULL, NULL) != napi_ok || argc < 1 || napi_typeof(env, opts, &t) != napi_ok || t != napi_object) {
    napi_throw_type_error(env, NULL, "udp_batch.open: options object expected");
    return NULL;
  }
  if (!get_u32(env, opts, "family", 4, &family) || !get_u32(env, opts, "port", 0, &port) || !get_u32(env, opts, "rcvbuf", 0, &rcvbuf) ||
      !get_u32(env, opts, "batch", 64, &batch) || !get_u32(env, opts, "slot", MAX_SLOT, &slot) || !get_u32(env, opts, "ring", 8u << 20, &ring) ||
      !get_u32(env, opts, "coalesceUs", 200, &coalesce_us) || coalesce_us > 100000 ||
      (family != 4 && family != 6) || port > 65535 || batch < 1 || batch > MAX_BATCH || slot < 1 || slot > MAX_SLOT || ring < 2 * slot + 8 ||
      ring > (1u << 30) || ring % 4 != 0) {
    napi_throw_range_error(env, NULL, "udp_batch.open: family 4|6, port 0-65535, batch 1-1024, slot 1-65536, coalesceUs <= 100000, ring a multiple of 4 >= 2*slot+8 and <= 1 GiB");
    return NULL;
  }
  if (napi_get_named_property(env, opts, "onData", &cb) != napi_ok || napi_typeof(env, cb, &t) != napi_ok || t != napi_function) {
    napi_throw_type_error(env, NULL, "udp_batch.open: onData must be a function");
    return NULL;
  }
  if (napi_get_named_property(env, opts, "host", &host_v) != napi_ok || napi_get_value_string_utf8(env, host_v, host, sizeof host, &host_len) != napi_ok) {
    napi_throw_type_error(env, NULL, "udp_batch.open: host must be a numeric address string");
    return NULL;
  }

  union {
    struct sockaddr_in v4;
    struct sockaddr_in6 v6;
  } addr;
  memset(&addr, 0, sizeof addr);
  socklen_t alen = family == 6 ? sizeof addr.v6 : sizeof addr.v4;
  addr.v4.sin_family = family == 6 ? AF_INET6 : AF_INET; /* sin_family and sin6_family share the offset */
  addr.v4.sin_port = htons((uint16_t)port);               /* as do the ports */
  if (host_len > 0 && inet_pton(addr.v4.sin_family, host, family == 6 ? (void *)&addr.v6.sin6_addr : (void *)&addr.v4.sin_addr) != 1)
    return throw_errno(env, EINVAL, "udp_batch: bad address");

  int fd = socket(addr.v4.sin_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, errno, "udp_batch: socket");
  if (rcvbuf > 0) {
    /* SO_RCVBUFFORCE passes rmem_max with CAP_NET_ADMIN; without it the kernel caps SO_RCVBUF at rmem_max. */
    int val = rcvbuf > INT32_MAX / 2 ? INT32_MAX / 2 : (int)rcvbuf;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &val, sizeof val) != 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &val, sizeof val);
  }
  if (bind(fd, (struct sockaddr *)&addr, alen) != 0 || getsockname(fd, (struct sockaddr *)&addr, &alen) != 0) {
    int e = errno;
    close(fd);
    return throw_errno(env, e, "udp_batch: bind");
  }
  int granted = 0;
  socklen_t gl = sizeof granted;
  getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &granted, &gl);
  int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  receiver *r = calloc(1, sizeof *r);
  if (r) {
    r->scratch = malloc((size_t)batch * slot);
    r->msgs = calloc(batch, sizeof *r->msgs);
    r->iov = calloc(batch, sizeof *r->iov);
  }
  if (efd < 0 || !r || !r->scratch || !r->msgs || !r->iov) {
    int e = efd < 0 ? errno : ENOMEM;
    close(fd);
    if (efd >= 0) close(efd);
    if (r) free_receiver(r);
    return throw_errno(env, e, "udp_batch: setting up");
  }
  r->env = env;
  r->fd = fd;
  r->efd = efd;
  r->batch = batch;
  r->slot = slot;
  r->ring_size = ring;
  /* Waiting for company is only safe when the socket buffer can hold the wait at any rate: 200 us of a
   * 1,000,000/s burst is ~170 KB of truesize. With a small buffer, read as soon as anything arrives. */
  r->coalesce_ns = granted >= (1 << 20) ? (long)coalesce_us * 1000 : 0;
  for (unsigned i = 0; i < batch; i++) {
    r->iov[i].iov_base = r->scratch + (size_t)i * slot;
    r->iov[i].iov_len = slot;
    r->msgs[i].msg_hdr.msg_iov = &r->iov[i];
    r->msgs[i].msg_hdr.msg_iovlen = 1;
  }
  void *p;
  TRY(napi_create_arraybuffer(env, ring, &p, &ring_ab));
  r->ring = p;
  TRY(napi_create_object(env, &resource));
  TRY(napi_create_string_utf8(env, "PodkitUdpBatch", NAPI_AUTO_LENGTH, &name));
  TRY(napi_async_init(env, resource, name, &r->actx));
  TRY(napi_create_reference(env, ring_ab, 1, &r->ring_ref));
  TRY(napi_create_reference(env, cb, 1, &r->cb_ref));
  TRY(napi_create_reference(env, resource, 1, &r->resource_ref));
  uv_loop_t *loop;
  TRY(napi_get_uv_event_loop(env, &loop));
  if (uv_async_init(loop, &r->async, on_async) != 0) FAIL("uv_async_init");
  r->owners = 1; /* the libuv handle; from here on shutdown_receiver() cleans up */
  int e = pthread_create(&r->thread, NULL, udp_reader, r);
  if (e != 0) {
    shutdown_receiver(r, 1, on_uv_closed);
    return throw_errno(env, e, "udp_batch: pthread_create");
  }
  r->started = 1;
  napi_add_env_cleanup_hook(env, cleanup_hook, r);

  if (napi_create_external(env, r, on_handle_gc, NULL, &ext) != napi_ok) return NULL; /* never: leaves the socket open until exit */
  r->owners++;
  if (napi_create_object(env, &result) != napi_ok || napi_set_named_property(env, result, "handle", ext) != napi_ok ||
      napi_set_named_property(env, result, "ring", ring_ab) != napi_ok || napi_create_uint32(env, ntohs(addr.v4.sin_port), &v) != napi_ok ||
      napi_set_named_property(env, result, "port", v) != napi_ok || napi_create_int32(env, granted, &v) != napi_ok ||
      napi_set_named_property(env, result, "rcvbuf", v) != napi_ok)
    return NULL;
  return result;

fail:
  /* Before the uv handle exists: undo by hand (references left unreleased are reclaimed with the env). */
  close(fd);
  close(efd);
  free_receiver(r);
  return NULL;
}

static receiver *unwrap(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value arg;
  napi_valuetype t;
  void *p = NULL;
  if (napi_get_cb_info(env, info, &argc, &arg, NULL, NULL) != napi_ok || argc < 1 || napi_typeof(env, arg, &t) != napi_ok || t != napi_external ||
      napi_get_value_external(env, arg, &p) != napi_ok) {
    napi_throw_type_error(env, NULL, "udp_batch: handle expected");
    return NULL;
  }
  return p;
}

/* Safe to call twice: the struct lives as long as the JS handle does. */
static napi_value close_receiver(napi_env env, napi_callback_info info) {
  receiver *r = unwrap(env, info);
  if (r && !r->closed) {
    napi_remove_env_cleanup_hook(env, cleanup_hook, r);
    shutdown_receiver(r, 1, on_uv_closed);
  }
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"open", NULL, open_receiver, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, close_receiver, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, 2, props) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
