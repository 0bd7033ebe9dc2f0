// RestorableArray: an assign() from the source it was last made equal to copies only the
// chunks written since, and gives the same array as a full copy in every case, including
// those where it must not take the shortcut.
#include "cpu_model/restorable_array.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace cpu_model {
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

}  // namespace
}  // namespace cpu_model
