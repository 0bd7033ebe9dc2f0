// Containers that a machine restore copies back at the cost of what was written since, not
// of their size. The oracle's state holds per-frame arrays as large as guest RAM and maps as
// large as the page tables, and the in-emulator fuzzer restores it once per input.
//
// Each container remembers what was written since it was last made equal to a source by
// assign(): chunks of kChunk entries (RestorableArray), keys (RestorableMap). A later
// assign() from that same source, unchanged since, copies only those; anything else (another
// source, a source written in between, a different size, too many writes to remember) copies
// the whole container. A source is identified by a process-wide serial number it takes at
// construction and at every assign() into it, plus a count of its writes.
#pragma once
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

namespace mmu {

namespace restorable_detail {

inline uint64_t next_serial() {
    static std::atomic<uint64_t> counter{0};
    return ++counter;
}

// What assign() needs to know: who this container is, and which source it last equalled.
struct Lineage {
    uint64_t serial = next_serial();
    uint64_t writes = 0;
    uint64_t synced_serial = 0;  // the source of the last assign(), and its write count then
    uint64_t synced_writes = 0;

    bool synced_with(const Lineage& source) const {
        return synced_serial == source.serial && synced_writes == source.writes;
    }
    void sync(const Lineage& source) {
        serial = next_serial();
        writes = 0;
        synced_serial = source.serial;
        synced_writes = source.writes;
    }
};

}  // namespace restorable_detail

// A fixed-size array (one entry per RAM frame, per pageblock, ...).
template <class T>
class RestorableArray {
public:
    static constexpr size_t kChunk = 4096;

    explicit RestorableArray(size_t size = 0, T value = T{}) : data_(size, value), dirty_(words(), 0) {}
    // A copy is a new source; it owes nothing to the original's history.
    RestorableArray(const RestorableArray& other) : data_(other.data_), dirty_(other.dirty_.size(), 0) {}
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
        if (lineage_.synced_with(source.lineage_) && data_.size() == source.data_.size()) {
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
        dirty_.assign(words(), 0);
        lineage_.sync(source.lineage_);
    }

    // Chunks written since the last assign() (tests).
    size_t dirty_chunks() const {
        size_t n = 0;
        for (uint64_t w : dirty_) n += static_cast<size_t>(__builtin_popcountll(w));
        return n;
    }

private:
    size_t words() const { return ((data_.size() + kChunk - 1) / kChunk + 63) / 64; }
    void mark(size_t i) {
        dirty_[i / kChunk / 64] |= uint64_t{1} << (i / kChunk % 64);
        ++lineage_.writes;
    }

    std::vector<T> data_;
    std::vector<uint64_t> dirty_;  // one bit per chunk
    restorable_detail::Lineage lineage_;
};

// An unordered map whose values are replaced or erased one key at a time.
template <class K, class V>
class RestorableMap {
public:
    using Map = std::unordered_map<K, V>;
    // Keys remembered between two assign()s; past this, the next assign() copies everything.
    static constexpr size_t kMaxDirtyKeys = 4096;

    RestorableMap() = default;
    RestorableMap(const RestorableMap& other) : map_(other.map_) {}
    RestorableMap& operator=(const RestorableMap& other) {
        assign(other);
        return *this;
    }

    typename Map::const_iterator find(const K& key) const { return map_.find(key); }
    typename Map::const_iterator begin() const { return map_.begin(); }
    typename Map::const_iterator end() const { return map_.end(); }
    size_t size() const { return map_.size(); }

    // The value at key, created if absent; the key counts as written.
    V& writable(const K& key) {
        mark(key);
        return map_[key];
    }
    // The value at key if present (the key then counts as written), else nullptr.
    V* writable_if_present(const K& key) {
        auto it = map_.find(key);
        if (it == map_.end()) return nullptr;
        mark(key);
        return &it->second;
    }
    void erase(const K& key) {
        mark(key);
        map_.erase(key);
    }

    // Makes this map equal to `source`.
    void assign(const RestorableMap& source) {
        if (&source == this) return;
        if (lineage_.synced_with(source.lineage_) && !overflow_) {
            for (const K& key : dirty_) {
                auto it = source.map_.find(key);
                if (it == source.map_.end()) map_.erase(key);
                else map_[key] = it->second;
            }
        } else {
            map_ = source.map_;
        }
        dirty_.clear();
        overflow_ = false;
        lineage_.sync(source.lineage_);
    }

private:
    void mark(const K& key) {
        ++lineage_.writes;
        if (overflow_) return;
        if (dirty_.size() == kMaxDirtyKeys) {
            overflow_ = true;
            dirty_.clear();
            return;
        }
        dirty_.push_back(key);  // repeats are harmless: copying a key twice gives the same map
    }

    Map map_;
    std::vector<K> dirty_;
    bool overflow_ = false;
    restorable_detail::Lineage lineage_;
};

}  // namespace mmu
