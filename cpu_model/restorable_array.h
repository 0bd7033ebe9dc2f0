// A fixed-size array (one entry per RAM frame, per pageblock, ...) that a machine restore
// copies back at the cost of what was written since, not of its size: the oracle's per-frame
// state is as large as guest RAM, and the in-emulator fuzzer restores it once per input.
//
// The array remembers which chunks of kChunk entries were written since it was last made
// equal to a source by assign(). A later assign() from that same source, unchanged since,
// copies only those chunks; anything else (another source, a source written in between, a
// different size) copies the whole array. A source is identified by a process-wide serial
// number it takes at construction and at every assign() into it, plus a count of its writes.
#pragma once
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace cpu_model {

template <class T>
class RestorableArray {
public:
    static constexpr size_t kChunk = 4096;

    explicit RestorableArray(size_t size = 0, T value = T{})
        : data_(size, value), dirty_((chunks() + 63) / 64, 0), serial_(next_serial()) {}
    // A copy is a new source; it owes nothing to the original's history.
    RestorableArray(const RestorableArray& other)
        : data_(other.data_), dirty_(other.dirty_.size(), 0), serial_(next_serial()) {}
    RestorableArray& operator=(const RestorableArray& other) {
        assign(other);
        return *this;
    }

    size_t size() const { return data_.size(); }
    const T& operator[](size_t i) const { return data_[i]; }
    void set(size_t i, T value) {
        mark(i);
        data_[i] = value;
    }
    // For read-modify-write (++, -=): the entry counts as written.
    T& writable(size_t i) {
        mark(i);
        return data_[i];
    }

    // Makes this array equal to `source`.
    void assign(const RestorableArray& source) {
        if (&source == this) return;
        const bool incremental = synced_serial_ == source.serial_ && synced_writes_ == source.writes_ &&
                                 data_.size() == source.data_.size();
        if (incremental) {
            for (size_t w = 0; w < dirty_.size(); ++w) {
                for (uint64_t bits = dirty_[w]; bits != 0; bits &= bits - 1) {
                    const size_t begin = (w * 64 + static_cast<size_t>(__builtin_ctzll(bits))) * kChunk;
                    const size_t end = std::min(begin + kChunk, data_.size());
                    std::copy(source.data_.begin() + static_cast<std::ptrdiff_t>(begin),
                              source.data_.begin() + static_cast<std::ptrdiff_t>(end),
                              data_.begin() + static_cast<std::ptrdiff_t>(begin));
                }
            }
        } else {
            data_ = source.data_;
        }
        dirty_.assign((chunks() + 63) / 64, 0);
        serial_ = next_serial();
        writes_ = 0;
        synced_serial_ = source.serial_;
        synced_writes_ = source.writes_;
    }

    // Chunks written since the last assign() (tests and benchmarks).
    size_t dirty_chunks() const {
        size_t n = 0;
        for (uint64_t w : dirty_) n += static_cast<size_t>(__builtin_popcountll(w));
        return n;
    }

private:
    size_t chunks() const { return (data_.size() + kChunk - 1) / kChunk; }
    void mark(size_t i) {
        dirty_[i / kChunk / 64] |= uint64_t{1} << (i / kChunk % 64);
        ++writes_;
    }
    static uint64_t next_serial() {
        static std::atomic<uint64_t> counter{0};
        return ++counter;
    }

    std::vector<T> data_;
    std::vector<uint64_t> dirty_;  // one bit per chunk
    uint64_t serial_;
    uint64_t writes_ = 0;
    uint64_t synced_serial_ = 0;  // the source of the last assign(), and its write count then
    uint64_t synced_writes_ = 0;
};

}  // namespace cpu_model
