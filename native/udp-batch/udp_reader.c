/*
 * udp_batch's reader thread: no Node-API or V8 here, only the socket, the ring and uv_async_send.
 * See udp_batch.c for the ring's layout and udp_batch.h for the receiver.
 */
#define _GNU_SOURCE
#include "udp_batch.h"

static void add(_Atomic double *c, double n) { atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n, memory_order_relaxed); }

/* Append one record; 0 when the ring has no room. `h` is the producer's private copy of head. */
static int put(receiver *r, uint64_t *h, const uint8_t *src, uint32_t len) {
  uint64_t t = atomic_load_explicit(&r->tail, memory_order_acquire);
  size_t need = 4 + (len == TRUNCATED ? 0 : ((size_t)len + 3) & ~(size_t)3);
  size_t pos = *h % r->ring_size;
  size_t skip = pos + need > r->ring_size ? r->ring_size - pos : 0; /* a record never wraps */
  if (*h - t + skip + need > r->ring_size) return 0;
  if (skip) {
    memcpy(r->ring + pos, &(uint32_t){WRAP}, 4); /* pos is 4-aligned and < size: the marker fits */
    *h += skip;
    pos = 0;
  }
  memcpy(r->ring + pos, &len, 4);
  if (len != TRUNCATED) memcpy(r->ring + pos + 4, src, len);
  *h += need;
  return 1;
}

static void reader_error(receiver *r, int err) {
  int expected = 0;
  if (atomic_compare_exchange_strong(&r->error, &expected, uv_translate_sys_error(err))) uv_async_send(&r->async);
}

void *udp_reader(void *arg) {
  receiver *r = arg;
  struct pollfd fds[2] = {{.fd = r->fd, .events = POLLIN}, {.fd = r->efd, .events = POLLIN}};
  uint64_t h = atomic_load(&r->head);
  int drained = 0;
  for (;;) {
    int n = drained ? -1 : recvmmsg(r->fd, r->msgs, r->batch, MSG_DONTWAIT, NULL);
    if (n < 0) {
      int e = drained ? EAGAIN : errno;
      drained = 0;
      if (e == EINTR) continue;
      int idle = e == EAGAIN || e == EWOULDBLOCK;
      if (!idle) reader_error(r, e);
      /* Drained: publish the socket's drop total (exact, not lagging like SO_RXQ_OVFL), then sleep. */
      uint32_t mem[SK_MEMINFO_VARS];
      socklen_t ml = sizeof mem;
      if (getsockopt(r->fd, SOL_SOCKET, SO_MEMINFO, mem, &ml) == 0 && ml > SK_MEMINFO_DROPS * sizeof(uint32_t) &&
          mem[SK_MEMINFO_DROPS] != atomic_load(&r->kernel_drops)) {
        atomic_store(&r->kernel_drops, mem[SK_MEMINFO_DROPS]);
        uv_async_send(&r->async);
      }
      /* A persistent error would spin: back off 10 ms; otherwise wait for data or the stop signal. */
      int p = poll(fds, 2, idle ? -1 : 10);
      if (p > 0 && (fds[1].revents & POLLIN)) return NULL;
      /* Woken by the first datagram: let a few more arrive so one recvmmsg, one wake-up of the
       * event loop and one JS call serve many (waking per datagram costs ~5 system calls each).
       * The socket buffer covers the wait: 200 us at 200,000/s is 40 datagrams. */
      if (p > 0 && r->coalesce_ns > 0) nanosleep(&(struct timespec){0, r->coalesce_ns}, NULL);
      continue;
    }
    for (int i = 0; i < n; i++) {
      int trunc = (r->msgs[i].msg_hdr.msg_flags & MSG_TRUNC) != 0;
      if (!put(r, &h, r->scratch + (size_t)i * r->slot, trunc ? TRUNCATED : r->msgs[i].msg_len)) add(&r->ring_drops, 1);
      r->msgs[i].msg_hdr.msg_flags = 0;
    }
    atomic_store_explicit(&r->head, h, memory_order_release);
    uv_async_send(&r->async); /* coalesces: one wake-up however many batches arrive meanwhile */
    drained = (unsigned)n < r->batch; /* MSG_DONTWAIT returns a short batch only when the queue is empty */
  }
}
