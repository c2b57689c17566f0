/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Invocation boundary hints for scx_alps, for C runtimes (Rust: the
 * alps-hint crate in hint/). Dependency-free; the caller needs no privilege.
 *
 * A thread of a long-lived function worker calls
 *	alps_invocation_begin("resize");   ... serve the request ...
 *	alps_invocation_end();
 * around each request it serves. scx_alps started with
 * --hint-binary <the program or shared library> puts uprobes on these two
 * symbols and counts each begin-end span on the thread as one invocation of
 * the named function (15 bytes of the name are kept). Without scx_alps a
 * pair costs two calls of empty functions.
 *
 * A worker calls alps_invocation_end() once when it is ready, before its
 * first request: that thread is then a hinting one from the start, and a
 * worker that exits without serving a request (a pool scaled in) is not
 * taken for an invocation of its cgroup's function.
 *
 * Exactly one translation unit of the program defines the functions:
 *	#define ALPS_HINT_IMPLEMENTATION
 *	#include "alps_hint.h"
 * Every other one includes the header alone. A program that links the
 * alps-hint crate already has them.
 */
#ifndef __ALPS_HINT_H
#define __ALPS_HINT_H

#ifdef __cplusplus
extern "C" {
#endif

/* The calling thread starts serving a request of @function (NUL-terminated). */
void alps_invocation_begin(const char *function);
/*
 * The request the calling thread serves is done; outside a request: the
 * thread is a hinting worker, ready for its first one.
 */
void alps_invocation_end(void);

#ifdef ALPS_HINT_IMPLEMENTATION
/*
 * Never inlined, cloned or dropped: the uprobes need the symbols, and GCC
 * would otherwise call a specialised copy. The empty asm keeps the argument
 * live, so the call is not optimised away.
 */
#if defined(__GNUC__) && !defined(__clang__)
#define ALPS_HINT_KEEP __attribute__((noinline, noipa, used, visibility("default")))
#else
#define ALPS_HINT_KEEP __attribute__((noinline, used, visibility("default")))
#endif

ALPS_HINT_KEEP void alps_invocation_begin(const char *function)
{
	__asm__ __volatile__("" : : "r"(function) : "memory");
}

ALPS_HINT_KEEP void alps_invocation_end(void)
{
	__asm__ __volatile__("" : : : "memory");
}
#endif /* ALPS_HINT_IMPLEMENTATION */

#ifdef __cplusplus
}
#endif

#endif /* __ALPS_HINT_H */
