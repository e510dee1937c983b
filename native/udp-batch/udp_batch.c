/*
 * udp_batch: a UDP receive socket for Node that reads many datagrams per system call.
 *
 * Why: Node's dgram delivers one datagram per libuv read and per JS callback, with a new
 * Buffer each time (~4 us per datagram). A StatsD receiver at 100,000 single-line datagrams/s
 * then spends a third of a core on plumbing, and any pause overflows the socket buffer.
 * Here a libuv poll handle watches the fd; on readability recvmmsg(2) fills up to `batch`
 * fixed-size slots of ONE ArrayBuffer (shared with JS, allocated once) and JS is called once
 * per batch with the number of datagrams; their lengths are in a shared Uint32Array.
 *
 * JS API (plain Node-API, no node-addon-api):
 *   open({family: 4|6, host, port, rcvbuf, batch, slot, onBatch})
 *     -> {handle, port, data: ArrayBuffer(batch*slot), lengths: ArrayBuffer(batch*4), rcvbuf}
 *     onBatch(count, kernelDrops): count >= 0 datagrams are in slots 0..count-1, lengths[i] is
 *     the byte length or TRUNCATED (0xffffffff) when the datagram was longer than a slot;
 *     count < 0 is a libuv error code (-errno); kernelDrops is SO_RXQ_OVFL's running total.
 *   stats(handle) -> {wakeups, calls, datagrams, truncated, drops}
 *   close(handle): stops polling and closes the fd at once (idempotent).
 * The slots are reused by the next batch: JS must not keep views into them past the callback.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#ifndef SO_RXQ_OVFL
#define SO_RXQ_OVFL 40
#endif

#define TRUNCATED 0xffffffffu
#define MAX_BATCH 1024
#define MAX_SLOT 65536
/* recvmmsg rounds per wakeup before giving the event loop back (the poll is level-triggered). */
#define MAX_ROUNDS 16

typedef struct {
  uv_poll_t poll; /* first member: the uv handle's address is the struct's */
  napi_env env;
  int fd;
  int closed;
  int owners; /* the JS handle and the libuv handle: the struct is freed when both have let go */
  unsigned batch, slot;
  uint8_t *data;      /* backing store of the shared ArrayBuffer (owned by V8, kept alive by data_ref) */
  uint32_t *lengths;  /* backing store of the shared lengths ArrayBuffer */
  napi_ref data_ref, lengths_ref, cb_ref, resource_ref;
  napi_async_context async;
  struct mmsghdr *msgs;
  struct iovec *iov;
  char *control; /* per message: room for one SO_RXQ_OVFL cmsg */
  size_t control_len;
  uint32_t drops;
  double wakeups, calls, datagrams, truncated;
} receiver;

#define CHECK(call)                                                                       \
  do {                                                                                    \
    if ((call) != napi_ok) {                                                              \
      napi_throw_error(env, "PODKIT_ERR_NATIVE", "udp_batch: Node-API call failed: " #call); \
      return NULL;                                                                        \
    }                                                                                     \
  } while (0)

/* Throw an Error whose .code is the errno name, as Node's own socket errors have. */
static napi_value throw_errno(napi_env env, int err, const char *what) {
  char msg[160];
  const char *name = uv_err_name(uv_translate_sys_error(err));
  snprintf(msg, sizeof msg, "%s %s: %s", what, name, strerror(err));
  napi_throw_error(env, name, msg);
  return NULL;
}

static void free_receiver(receiver *r) {
  free(r->msgs);
  free(r->iov);
  free(r->control);
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

/* Stop at once (no more callbacks, fd closed); the memory goes when libuv has let go of the handle. */
static void shutdown_receiver(receiver *r, int release_js) {
  if (r->closed) return;
  r->closed = 1;
  uv_poll_stop(&r->poll);
  close(r->fd);
  r->fd = -1;
  if (release_js) {
    napi_delete_reference(r->env, r->data_ref);
    napi_delete_reference(r->env, r->lengths_ref);
    napi_delete_reference(r->env, r->cb_ref);
    napi_delete_reference(r->env, r->resource_ref);
    napi_async_destroy(r->env, r->async);
  }
  uv_close((uv_handle_t *)&r->poll, on_uv_closed);
}

/* Environment teardown (process exit, worker end) without close(): release the fd. */
static void cleanup_hook(void *arg) { shutdown_receiver((receiver *)arg, 0); }

/* One JS call; false when the receiver was closed by it (or the call failed). */
static int deliver(receiver *r, int32_t count) {
  napi_env env = r->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return 0;
  napi_value cb, resource, argv[2], result;
  napi_get_reference_value(env, r->cb_ref, &cb);
  napi_get_reference_value(env, r->resource_ref, &resource);
  napi_create_int32(env, count, &argv[0]);
  napi_create_uint32(env, r->drops, &argv[1]);
  /* make_callback (not call_function): runs the microtask queue and async hooks like any I/O callback. */
  napi_status st = napi_make_callback(env, r->async, resource, cb, 2, argv, &result);
  if (st != napi_ok) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value err;
      napi_get_and_clear_last_exception(env, &err);
      napi_fatal_exception(env, err); /* → process 'uncaughtException', as a throwing dgram handler would */
    }
  }
  napi_close_handle_scope(env, scope);
  return !r->closed;
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  receiver *r = (receiver *)handle;
  (void)events;
  if (r->closed) return;
  if (status < 0) {
    deliver(r, status);
    return;
  }
  r->wakeups++;
  for (int round = 0; round < MAX_ROUNDS; round++) {
    for (unsigned i = 0; i < r->batch; i++) {
      /* The kernel rewrites these on every call. */
      r->msgs[i].msg_hdr.msg_control = r->control + i * r->control_len;
      r->msgs[i].msg_hdr.msg_controllen = r->control_len;
      r->msgs[i].msg_hdr.msg_flags = 0;
    }
    int n = recvmmsg(r->fd, r->msgs, r->batch, MSG_DONTWAIT, NULL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      deliver(r, uv_translate_sys_error(errno));
      return;
    }
    if (n == 0) return;
    r->calls++;
    r->datagrams += n;
    for (int i = 0; i < n; i++) {
      struct msghdr *m = &r->msgs[i].msg_hdr;
      if (m->msg_flags & MSG_TRUNC) {
        r->lengths[i] = TRUNCATED;
        r->truncated++;
      } else {
        r->lengths[i] = r->msgs[i].msg_len;
      }
      for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c != NULL; c = CMSG_NXTHDR(m, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL && c->cmsg_len >= CMSG_LEN(sizeof(uint32_t))) {
          memcpy(&r->drops, CMSG_DATA(c), sizeof(uint32_t));
        }
      }
    }
    if (!deliver(r, n)) return;
    if ((unsigned)n < r->batch) return; /* drained */
  }
}

/* Read an optional uint32 property; absent or undefined → dflt. */
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

static napi_value open_receiver(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value opts, cb, host_v;
  char host[64];
  size_t host_len = 0;
  uint32_t family, port, rcvbuf, batch, slot;
  napi_valuetype t;
  CHECK(napi_get_cb_info(env, info, &argc, &opts, NULL, NULL));
  if (argc < 1 || napi_typeof(env, opts, &t) != napi_ok || t != napi_object) {
    napi_throw_type_error(env, NULL, "udp_batch.open: options object expected");
    return NULL;
  }
  if (!get_u32(env, opts, "family", 4, &family) || !get_u32(env, opts, "port", 0, &port) || !get_u32(env, opts, "rcvbuf", 0, &rcvbuf) ||
      !get_u32(env, opts, "batch", 64, &batch) || !get_u32(env, opts, "slot", MAX_SLOT, &slot) || (family != 4 && family != 6) || port > 65535 ||
      batch < 1 || batch > MAX_BATCH || slot < 1 || slot > MAX_SLOT) {
    napi_throw_range_error(env, NULL, "udp_batch.open: family 4|6, port 0-65535, batch 1-1024, slot 1-65536");
    return NULL;
  }
  CHECK(napi_get_named_property(env, opts, "onBatch", &cb));
  CHECK(napi_typeof(env, cb, &t));
  if (t != napi_function) {
    napi_throw_type_error(env, NULL, "udp_batch.open: onBatch must be a function");
    return NULL;
  }
  CHECK(napi_get_named_property(env, opts, "host", &host_v));
  if (napi_get_value_string_utf8(env, host_v, host, sizeof host, &host_len) != napi_ok) {
    napi_throw_type_error(env, NULL, "udp_batch.open: host must be a numeric address string");
    return NULL;
  }

  union {
    struct sockaddr_in v4;
    struct sockaddr_in6 v6;
  } addr;
  memset(&addr, 0, sizeof addr);
  socklen_t alen;
  int domain = family == 6 ? AF_INET6 : AF_INET;
  if (family == 6) {
    addr.v6.sin6_family = AF_INET6;
    addr.v6.sin6_port = htons((uint16_t)port);
    alen = sizeof addr.v6;
    if (host_len > 0 && inet_pton(AF_INET6, host, &addr.v6.sin6_addr) != 1) return throw_errno(env, EINVAL, "udp_batch: bad IPv6 address");
  } else {
    addr.v4.sin_family = AF_INET;
    addr.v4.sin_port = htons((uint16_t)port);
    alen = sizeof addr.v4;
    if (host_len > 0 && inet_pton(AF_INET, host, &addr.v4.sin_addr) != 1) return throw_errno(env, EINVAL, "udp_batch: bad IPv4 address");
  }

  int fd = socket(domain, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, errno, "udp_batch: socket");
  if (rcvbuf > 0) {
    /* SO_RCVBUFFORCE passes rmem_max when we have CAP_NET_ADMIN; otherwise the kernel caps SO_RCVBUF at rmem_max. */
    int v = (int)(rcvbuf > INT32_MAX ? INT32_MAX : rcvbuf);
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof v) != 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof v);
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one); /* drop counter; older kernels: no counter, no error */
  if (bind(fd, (struct sockaddr *)&addr, alen) != 0) {
    int e = errno;
    close(fd);
    return throw_errno(env, e, "udp_batch: bind");
  }
  if (getsockname(fd, (struct sockaddr *)&addr, &alen) != 0) {
    int e = errno;
    close(fd);
    return throw_errno(env, e, "udp_batch: getsockname");
  }
  int actual = 0;
  socklen_t ol = sizeof actual;
  getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &actual, &ol);

  receiver *r = calloc(1, sizeof *r);
  size_t control_len = CMSG_SPACE(sizeof(uint32_t));
  if (r) {
    r->msgs = calloc(batch, sizeof *r->msgs);
    r->iov = calloc(batch, sizeof *r->iov);
    r->control = calloc(batch, control_len);
  }
  if (!r || !r->msgs || !r->iov || !r->control) {
    close(fd);
    if (r) free_receiver(r);
    return throw_errno(env, ENOMEM, "udp_batch: allocating buffers");
  }
  r->env = env;
  r->fd = fd;
  r->owners = 1; /* the libuv handle; the JS handle takes the second below */
  r->batch = batch;
  r->slot = slot;
  r->control_len = control_len;

  napi_value data_ab, lengths_ab, resource, name, result, ext, v;
  void *p;
#define CHECK_R(call)               \
  do {                              \
    if ((call) != napi_ok) {        \
      close(fd);                    \
      free_receiver(r);             \
      napi_throw_error(env, "PODKIT_ERR_NATIVE", "udp_batch: Node-API call failed: " #call); \
      return NULL;                  \
    }                               \
  } while (0)
  CHECK_R(napi_create_arraybuffer(env, (size_t)batch * slot, &p, &data_ab));
  r->data = p;
  CHECK_R(napi_create_arraybuffer(env, (size_t)batch * sizeof(uint32_t), &p, &lengths_ab));
  r->lengths = p;
  for (unsigned i = 0; i < batch; i++) {
    r->iov[i].iov_base = r->data + (size_t)i * slot;
    r->iov[i].iov_len = slot;
    r->msgs[i].msg_hdr.msg_iov = &r->iov[i];
    r->msgs[i].msg_hdr.msg_iovlen = 1;
  }
  CHECK_R(napi_create_object(env, &resource));
  CHECK_R(napi_create_string_utf8(env, "PodkitUdpBatch", NAPI_AUTO_LENGTH, &name));
  CHECK_R(napi_async_init(env, resource, name, &r->async));
  CHECK_R(napi_create_reference(env, data_ab, 1, &r->data_ref));
  CHECK_R(napi_create_reference(env, lengths_ab, 1, &r->lengths_ref));
  CHECK_R(napi_create_reference(env, cb, 1, &r->cb_ref));
  CHECK_R(napi_create_reference(env, resource, 1, &r->resource_ref));

  uv_loop_t *loop;
  CHECK_R(napi_get_uv_event_loop(env, &loop));
  int e = uv_poll_init(loop, &r->poll, fd);
  if (e != 0) {
    close(fd);
    napi_delete_reference(env, r->data_ref);
    napi_delete_reference(env, r->lengths_ref);
    napi_delete_reference(env, r->cb_ref);
    napi_delete_reference(env, r->resource_ref);
    napi_async_destroy(env, r->async);
    free_receiver(r);
    return throw_errno(env, -e, "udp_batch: uv_poll_init");
  }
  e = uv_poll_start(&r->poll, UV_READABLE, on_readable);
  if (e != 0) {
    shutdown_receiver(r, 1); /* the handle is registered with the loop now: libuv frees it */
    return throw_errno(env, -e, "udp_batch: uv_poll_start");
  }
  napi_add_env_cleanup_hook(env, cleanup_hook, r);

  CHECK(napi_create_external(env, r, on_handle_gc, NULL, &ext));
  r->owners++;
  CHECK(napi_create_object(env, &result));
  CHECK(napi_set_named_property(env, result, "handle", ext));
  CHECK(napi_set_named_property(env, result, "data", data_ab));
  CHECK(napi_set_named_property(env, result, "lengths", lengths_ab));
  CHECK(napi_create_uint32(env, ntohs(family == 6 ? addr.v6.sin6_port : addr.v4.sin_port), &v));
  CHECK(napi_set_named_property(env, result, "port", v));
  CHECK(napi_create_int32(env, actual, &v));
  CHECK(napi_set_named_property(env, result, "rcvbuf", v));
  return result;
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
  if (!r) return NULL;
  if (!r->closed) napi_remove_env_cleanup_hook(env, cleanup_hook, r);
  shutdown_receiver(r, 1);
  return NULL;
}

static napi_value receiver_stats(napi_env env, napi_callback_info info) {
  receiver *r = unwrap(env, info);
  if (!r) return NULL;
  napi_value o, v;
  CHECK(napi_create_object(env, &o));
  const char *keys[] = {"wakeups", "calls", "datagrams", "truncated", "drops"};
  double vals[] = {r->wakeups, r->calls, r->datagrams, r->truncated, (double)r->drops};
  for (int i = 0; i < 5; i++) {
    CHECK(napi_create_double(env, vals[i], &v));
    CHECK(napi_set_named_property(env, o, keys[i], v));
  }
  return o;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"open", NULL, open_receiver, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, close_receiver, NULL, NULL, NULL, napi_enumerable, NULL},
      {"stats", NULL, receiver_stats, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, 3, props) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
