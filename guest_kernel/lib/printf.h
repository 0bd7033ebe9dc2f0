// A small printf-like formatter: %d %i %u %x %X %p %s %c %%, with flags '-', '0', '#',
// a field width (digits or '*'), a precision for %s (".N" or ".*"), and the length modifiers l, ll, z.
#pragma once
#include <stdarg.h>
#include <stddef.h>

using FormatSink = void (*)(char c, void* ctx);

int kvformat(FormatSink sink, void* ctx, const char* fmt, va_list ap);

// To the console (COM1).
[[gnu::format(printf, 1, 2)]] int kprintf(const char* fmt, ...);
int kvprintf(const char* fmt, va_list ap);
// Into buf (always NUL-terminated when size > 0); returns the untruncated length.
[[gnu::format(printf, 3, 4)]] int ksnprintf(char* buf, size_t size, const char* fmt, ...);
