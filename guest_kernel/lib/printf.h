// A small printf-like formatter: %d %i %u %x %X %p %s %c %%, with flags '-', '0', '#',
// a field width (digits or '*'), a precision for %s (".N" or ".*"), and the length modifiers l, ll, z.
#pragma once
#include <stdarg.h>
#include <stddef.h>

using FormatSink = void (*)(char c, void* ctx);

int kvformat(FormatSink sink, void* ctx, const char* fmt, va_list ap);

// To the console (COM1), one call at a time: the console lock keeps each call's output
// together when several CPUs print.
[[gnu::format(printf, 1, 2)]] int kprintf(const char* fmt, ...);
int kvprintf(const char* fmt, va_list ap);
// Panic and oops (Linux's bust_spinlocks): from now on kprintf ignores the console lock, so
// that a CPU dying with the lock held, or interrupted by the report, cannot hide the report.
void console_bust();
// Into buf (always NUL-terminated when size > 0); returns the untruncated length.
[[gnu::format(printf, 3, 4)]] int ksnprintf(char* buf, size_t size, const char* fmt, ...);
