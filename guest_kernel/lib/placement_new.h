// Placement new, which <new> would declare (the kernel is built without the C++ library):
// constructs an object in memory the caller owns, e.g. pages from the page allocator.
#pragma once
#include <stddef.h>

inline void* operator new(size_t, void* where) noexcept { return where; }
