/*
 * conn_io, the reply guard in C: express commands of several clients may share an upstream connection's batch (at
 * many clients most of them do), and then the batch ends with a marker, `PING <nonce>`, whose reply nothing else
 * can produce; the express replies before it are held until it is read in its place — the rule guard.ts keeps for
 * JS's batches, so that an extra or missing reply from the node closes the connection instead of handing one
 * client another's reply.
 *
 * Why in C: at -c 50 nearly every batch holds several clients' commands; left to JS's guard, each of those commands
 * took the JS path and its two entries into JS, which is where the throughput against the C proxies went.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "conn_guard.h"

/* Errors a node gives every command, PING too, while a script runs, while it loads, or as a stale replica. */
static const char *const STALLS[] = {"-BUSY ", "-LOADING ", "-MASTERDOWN "};

int xg_marker(xguard_t *g, const uint8_t **cmd, size_t *len) {
  if (g->mark_len == 0) {
    uint8_t r[8];
    char hex[17];
    if (getrandom(r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
      /* No entropy yet (early boot) or no getrandom: a nonce still unlikely to be produced by any other command. */
      uint64_t x = uv_hrtime() ^ (uint64_t)(uintptr_t)g ^ ((uint64_t)getpid() << 32);
      x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
      x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
      x ^= x >> 31;
      memcpy(r, &x, sizeof r);
    }
    for (int i = 0; i < 8; i++) snprintf(hex + 2 * i, 3, "%02x", r[i]);
    g->mark_len = (size_t)snprintf((char *)g->mark, sizeof g->mark, "*2\r\n$4\r\nPING\r\n$16\r\n%s\r\n", hex);
    g->answer_len = (size_t)snprintf((char *)g->answer, sizeof g->answer, "$16\r\n%s\r\n", hex);
  }
  *cmd = g->mark;
  *len = g->mark_len;
  return 0;
}

void xg_slot_begin(xguard_t *g) { g->slot_len = 0, g->slot_over = 0; }

void xg_slot_bytes(xguard_t *g, const uint8_t *p, size_t n) {
  if (g->slot_over || g->slot_len + n > XG_SLOT) {
    g->slot_over = 1;
    return;
  }
  memcpy(g->slot + g->slot_len, p, n);
  g->slot_len += n;
}

static int is_stall(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < sizeof STALLS / sizeof *STALLS; i++) {
    size_t l = strlen(STALLS[i]);
    if (n >= l && memcmp(p, STALLS[i], l) == 0) return 1;
  }
  return 0;
}

int xg_verdict(const xguard_t *g, const uint8_t *answer, size_t len) {
  if (g->slot_over) return XG_BAD;
  if (answer && g->slot_len == len && memcmp(g->slot, answer, len) == 0) return XG_OK;
  /* A stall error answers in order only if every held reply is that same error (guard.ts check). */
  if (!is_stall(g->slot, g->slot_len)) return XG_BAD;
  for (uint32_t i = 0; i < g->nheld; i++) {
    const held_t *h = &g->held[i];
    if (h->len != g->slot_len || memcmp(g->buf + h->off, g->slot, h->len) != 0) return XG_BAD;
  }
  return XG_STALLED;
}

int xg_hold_bytes(xguard_t *g, const uint8_t *p, size_t n) {
  if (g->len + n > g->cap) {
    size_t cap = g->cap ? g->cap : 4096;
    while (cap < g->len + n) cap *= 2;
    if (cio_grow(&g->buf, cap)) return -ENOMEM;
    g->cap = cap;
  }
  memcpy(g->buf + g->len, p, n);
  g->len += n;
  return 0;
}

int xg_hold_end(xguard_t *g, int32_t id, uint32_t gen, uint32_t meta, uint32_t t0, uint32_t bin, size_t from) {
  if (g->nheld == g->held_cap) {
    uint32_t cap = g->held_cap ? g->held_cap * 2 : 64;
    if (cio_grow(&g->held, cap * sizeof *g->held)) return -ENOMEM;
    g->held_cap = cap;
  }
  g->held[g->nheld++] = (held_t){id, gen, meta, t0, bin, from, g->len - from};
  return 0;
}

static void forget(xguard_t *g) {
  g->nheld = 0;
  g->len = 0;
  /* A burst's buffer is not kept for ever: an idle connection holds at most 64 KiB. */
  if (g->cap > 64 * 1024) {
    free(g->buf);
    g->buf = NULL;
    g->cap = 0;
  }
}

void xg_release(conn_t *up, xguard_t *g) {
  for (uint32_t i = 0; i < g->nheld; i++) {
    const held_t *h = &g->held[i];
    cio_express_forward(up, h->id, h->gen, g->buf + h->off, h->len);
    cio_express_done(up, h->id, h->gen, h->t0, h->meta, h->bin, (uint32_t)h->len);
  }
  forget(g);
}

void xg_fail(conn_t *up, xguard_t *g, const uint8_t *text, size_t len) {
  for (uint32_t i = 0; i < g->nheld; i++) cio_express_fail(up, g->held[i].id, g->held[i].gen, text, len, 0);
  forget(g);
}

void xg_free(xguard_t *g) {
  free(g->held);
  free(g->buf);
  g->held = NULL;
  g->buf = NULL;
}
