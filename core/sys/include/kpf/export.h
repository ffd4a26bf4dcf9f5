/* kpf/export.h — what libkpf exports.
 *
 * libkpf is built with hidden visibility: a symbol leaves libkpf.so only when
 * it is declared between KPF_BEGIN_DECLS and KPF_END_DECLS in an installed
 * header (core/<layer>/include/kpf/).  Private headers beside the sources
 * use neither, so their functions stay inside the library.  The pair also
 * gives C++ callers C linkage. */
#ifndef KPF_EXPORT_H
#define KPF_EXPORT_H

#if defined(__GNUC__)
#define KPF_VISIBILITY_PUSH_ _Pragma("GCC visibility push(default)")
#define KPF_VISIBILITY_POP_ _Pragma("GCC visibility pop")
#else
#define KPF_VISIBILITY_PUSH_
#define KPF_VISIBILITY_POP_
#endif

#ifdef __cplusplus
#define KPF_BEGIN_DECLS extern "C" { KPF_VISIBILITY_PUSH_
#define KPF_END_DECLS KPF_VISIBILITY_POP_ }
#else
#define KPF_BEGIN_DECLS KPF_VISIBILITY_PUSH_
#define KPF_END_DECLS KPF_VISIBILITY_POP_
#endif

#endif
