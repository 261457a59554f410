// repack_weights_to_arena (runtime/model.h): repacking slice by slice from a file mapping
// gives exactly the whole-matrix repack, moves the views, and a tied embedding follows.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "kernels/interleaved8.h"
#include "kernels/kernels.h"
#include "runtime/model.h"

using namespace ember;

namespace {

// Random bytes in a file, mapped read-only like ModelFile does.
struct MappedBytes {
    explicit MappedBytes(size_t n) : size(n) {
        const std::string path = (std::filesystem::temp_directory_path() /
                                  ("ember_repack_" + std::to_string(::getpid()) + ".bin")).string();
        std::vector<uint8_t> bytes(n);
        std::mt19937 rng(7);
        for (auto& b : bytes) b = uint8_t(rng());
        FILE* f = std::fopen(path.c_str(), "wb");
        REQUIRE(f != nullptr);
        REQUIRE(std::fwrite(bytes.data(), 1, n, f) == n);
        std::fclose(f);
        const int fd = ::open(path.c_str(), O_RDONLY);
        REQUIRE(fd >= 0);
        map = static_cast<uint8_t*>(::mmap(nullptr, n, PROT_READ, MAP_SHARED, fd, 0));
        ::close(fd);
        std::filesystem::remove(path);
        REQUIRE(map != MAP_FAILED);
        original = bytes;
    }
    ~MappedBytes() { ::munmap(map, size); }
    size_t size;
    uint8_t* map = nullptr;
    std::vector<uint8_t> original;
};

}  // namespace

TEST_CASE("repack_weights_to_arena: slice by slice equals the whole-matrix repack; a tied embedding follows") {
    const KernelTable& table = kernels();
    if (table.repack == nullptr) {
        MESSAGE("skipped: the " << table.isa_name << " kernel table does not repack weights");
        return;
    }
    for (DType dtype : {DType::Q8, DType::Q4}) {
        CAPTURE(dtype_name(dtype));
        const int64_t rows = 1003, cols = 96;  // 125 groups + 3 file-layout rows
        const int64_t row_bytes = dtype_row_bytes(dtype, cols);
        MappedBytes file(size_t(rows * row_bytes));
        MatrixView m{dtype, rows, cols, file.map, row_bytes};

        std::vector<uint8_t> expected(file.original.size());
        MatrixView whole = m;
        whole.data = file.original.data();
        REQUIRE(il8::can_repack(whole));
        il8::repack(whole, expected.data());

        ModelWeights w;
        w.embed = m;
        w.lm_head = m;  // tied
        // Slices of 128 rows: 8 slices, the last one short.
        const std::shared_ptr<void> arena = repack_weights_to_arena(w, table, 128 * row_bytes);
        REQUIRE(arena != nullptr);
        CHECK(w.lm_head.layout == WeightLayout::kInterleaved8);
        CHECK(w.lm_head.rows == rows);
        CHECK(w.lm_head.data != file.map);
        CHECK(w.embed.data == w.lm_head.data);
        CHECK(std::memcmp(w.lm_head.data, expected.data(), expected.size()) == 0);
        // The file mapping still reads back (released pages come back from the file).
        CHECK(std::memcmp(file.map, file.original.data(), file.original.size()) == 0);
    }
}
