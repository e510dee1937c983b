/*
 * udp_batch: what udp_batch.c (the JS API and the event-loop side) and udp_reader.c (the reader thread) share.
 * See udp_batch.c for why and how. Include after defining _GNU_SOURCE (recvmmsg).
 */
#ifndef PODKIT_UDP_BATCH_H
#define PODKIT_UDP_BATCH_H
#include <arpa/inet.h>
#include <errno.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <node_api.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#ifndef SO_MEMINFO
#define SO_MEMINFO 55
#endif

#define TRUNCATED 0xffffffffu
#define WRAP 0xfffffffeu
#define MAX_BATCH 1024
#define MAX_SLOT 65536
/* Bytes of records per JS call: ~10 ms of parsing, so a backlog is worked off between other events. */
#define CHUNK (256 * 1024)

typedef struct {
  uv_async_t async; /* first member: the uv handle's address is the struct's */
  napi_env env;
  int fd, efd; /* the socket; an eventfd that tells the reader to stop */
  int closed, started, owners;
  unsigned batch, slot;
  long coalesce_ns;
  uint8_t *ring;
  size_t ring_size;
  _Atomic uint64_t head, tail;
  _Atomic uint32_t kernel_drops;
  _Atomic int error; /* a libuv error code from the reader, reported once */
  _Atomic double ring_drops;
  uint8_t *scratch; /* batch * slot bytes the reader receives into */
  struct mmsghdr *msgs;
  struct iovec *iov;
  pthread_t thread;
  napi_ref ring_ref, cb_ref, resource_ref;
  napi_async_context actx;
  uint32_t told_kernel_drops; /* what JS was last told (event-loop thread only) */
  double told_ring_drops;
} receiver;

/* The reader thread: drains the socket with recvmmsg into the ring until the eventfd says stop. No Node-API or V8
 * there, only the socket, the ring and uv_async_send. */
void *udp_reader(void *arg);

#endif
