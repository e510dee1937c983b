/*
 * conn_io, the reply guard in C (conn_guard.c): what conn_direct.c needs to mark a shared upstream connection's
 * batches of several express clients' commands and to hold their replies until the mark vouches for them.
 */
#ifndef PODKIT_CONN_GUARD_H
#define PODKIT_CONN_GUARD_H
#include <stddef.h>
#include <stdint.h>

#include "conn_io.h"

/* A marker slot's verdict, as guard.ts's: its own answer, a stall error every held reply is too, anything else. */
enum { XG_OK = 0, XG_STALLED = 1, XG_BAD = 2 };
/* Of a marker slot's reply, this much is kept for the verdict (a stall error's line is far shorter). */
#define XG_SLOT 256
/*
 * A marked batch is cut, where the client changes, by a marker of its own once this many bytes of commands have gone
 * since its last: Redis reads a client's commands 16 KiB at a time and writes each read's replies before the next, so
 * a marker in every read lets the replies held behind it go out as the node answers them, not after the whole write.
 * guard.ts GUARD_SEGMENT is the JS guard's; guard.test.ts checks the two agree.
 */
#define XG_SEGMENT 4096
/* In the owed count JS reads (conn.ts): C's guard is suspect, JS marks its batches too. */
#define XG_SUSPECT 0x40000000

/* An express reply held until a marker behind it is answered in place. */
typedef struct {
  int32_t id;
  uint32_t gen, meta, t0, bin;
  size_t off, len; /* its bytes in the hold buffer */
} held_t;

typedef struct {
  held_t *held;
  uint32_t nheld, held_cap;
  uint8_t *buf; /* the held replies' bytes */
  size_t len, cap;
  uint8_t slot[XG_SLOT]; /* the marker slot's reply so far */
  size_t slot_len;
  int slot_over;
  uint8_t mark[48], answer[32]; /* this connection's own marker command and its only good reply */
  size_t mark_len, answer_len;
} xguard_t;

/* The marker command (made once, with its own nonce: a JS marker's answer can never vouch for C's, nor C's for JS's). */
int xg_marker(xguard_t *g, const uint8_t **cmd, size_t *len);
/* A marker slot starts / goes on with p[0, n). */
void xg_slot_begin(xguard_t *g);
void xg_slot_bytes(xguard_t *g, const uint8_t *p, size_t n);
/* The slot's reply is whole: its verdict against `answer` (JS's or C's own) and the replies held. */
int xg_verdict(const xguard_t *g, const uint8_t *answer, size_t len);
/* Bytes of the held reply in progress; its entry once whole. -ENOMEM when there is no room. */
int xg_hold_bytes(xguard_t *g, const uint8_t *p, size_t n);
int xg_hold_end(xguard_t *g, int32_t id, uint32_t gen, uint32_t meta, uint32_t t0, uint32_t bin, size_t from);
/* The held replies go to their clients (vouched for), or get `text` (NULL: their clients are closed). */
void xg_release(conn_t *up, xguard_t *g);
void xg_fail(conn_t *up, xguard_t *g, const uint8_t *text, size_t len);
void xg_free(xguard_t *g);

#endif
