// RestorableArray and RestorableMap: an assign() from the source they were last made equal to
// copies only what was written since, and gives the same container as a full copy in every
// case, including those where it must not take the shortcut.
#include "mmu/restorable.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <vector>

namespace mmu {
namespace {

using Array = RestorableArray<uint32_t>;
constexpr size_t kSize = 20 * Array::kChunk + 123;  // a partial last chunk

std::vector<uint32_t> values(const Array& a) {
    std::vector<uint32_t> v(a.size());
    for (size_t i = 0; i < a.size(); ++i) v[i] = a[i];
    return v;
}

void scribble(Array& a, std::mt19937& rng, int writes) {
    for (int i = 0; i < writes; ++i) {
        const size_t at = rng() % a.size();
        if (rng() % 2) a.set(at, static_cast<uint32_t>(rng()));
        else a.writable(at) += 7;
    }
}

TEST(RestorableArray, RestoringFromItsSnapshotCopiesTheWrittenChunksAndMatches) {
    std::mt19937 rng(1);
    Array live(kSize, 5);
    scribble(live, rng, 500);
    const Array snapshot(live);
    live.assign(snapshot);
    EXPECT_EQ(live.dirty_chunks(), 0u);
    for (int round = 0; round < 20; ++round) {
        scribble(live, rng, 1 + static_cast<int>(rng() % 3));
        EXPECT_GE(live.dirty_chunks(), 1u);
        EXPECT_LE(live.dirty_chunks(), 3u);
        live.assign(snapshot);
        EXPECT_EQ(values(live), values(snapshot)) << "round " << round;
        EXPECT_EQ(live.dirty_chunks(), 0u);
    }
    // The last entry of the partial last chunk.
    live.set(kSize - 1, 99);
    live.assign(snapshot);
    EXPECT_EQ(live[kSize - 1], snapshot[kSize - 1]);
}

// Every case where only the written chunks would be wrong: a different source, a source
// written after the sync, a source of another size.
TEST(RestorableArray, AnythingButAnUnchangedLastSourceIsCopiedWhole) {
    std::mt19937 rng(2);
    Array a(kSize, 1), b(kSize, 2);
    Array live(kSize, 0);
    live.assign(a);
    live.set(3, 42);
    live.assign(b);  // another source
    EXPECT_EQ(values(live), values(b));

    live.assign(a);
    a.set(kSize / 2, 77);  // the source changes after the sync, in a chunk live never wrote
    live.set(0, 9);
    live.assign(a);
    EXPECT_EQ(values(live), values(a));

    Array longer(kSize + Array::kChunk, 3);
    live.assign(longer);
    EXPECT_EQ(values(live), values(longer));

    // A copy of a source is a new source: syncing with the copy says nothing about the
    // original once the original moves on.
    Array original(kSize, 4);
    Array copy(original);
    live.assign(copy);
    original.set(10, 5);
    live.assign(original);
    EXPECT_EQ(values(live), values(original));
}

using Map = RestorableMap<uint64_t, std::vector<int>>;

std::map<uint64_t, std::vector<int>> entries(const Map& m) {
    return std::map<uint64_t, std::vector<int>>(m.begin(), m.end());
}

void scribble(Map& m, std::mt19937& rng, int writes) {
    for (int i = 0; i < writes; ++i) {
        const uint64_t key = rng() % 64;
        switch (rng() % 3) {
            case 0: m.writable(key).push_back(static_cast<int>(rng() % 100)); break;
            case 1: m.erase(key); break;
            default:
                if (std::vector<int>* v = m.writable_if_present(key); v && !v->empty()) v->pop_back();
        }
    }
}

TEST(RestorableMap, RestoringFromItsSnapshotGivesItBackAfterAnyWrites) {
    std::mt19937 rng(3);
    Map live;
    scribble(live, rng, 300);
    const Map snapshot(live);
    live.assign(snapshot);
    for (int round = 0; round < 50; ++round) {
        scribble(live, rng, 1 + static_cast<int>(rng() % 20));
        live.assign(snapshot);
        EXPECT_EQ(entries(live), entries(snapshot)) << "round " << round;
    }
}

TEST(RestorableMap, AnythingButAnUnchangedLastSourceIsCopiedWhole) {
    std::mt19937 rng(4);
    Map a, b, live;
    scribble(a, rng, 100);
    scribble(b, rng, 100);
    live.assign(a);
    scribble(live, rng, 5);
    live.assign(b);  // another source
    EXPECT_EQ(entries(live), entries(b));

    live.assign(a);
    a.writable(1000).push_back(1);  // the source changes after the sync, at a key live never wrote
    live.writable(2).push_back(2);
    live.assign(a);
    EXPECT_EQ(entries(live), entries(a));

    // More writes than it remembers keys for.
    const Map snapshot(a);
    live.assign(snapshot);
    for (size_t i = 0; i <= Map::kMaxDirtyKeys; ++i) live.writable(5000 + i).push_back(1);
    live.assign(snapshot);
    EXPECT_EQ(entries(live), entries(snapshot));
}

}  // namespace
}  // namespace mmu
