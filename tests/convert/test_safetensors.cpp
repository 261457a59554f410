// safetensors reader: header validation, shards, rows as f32.
#include <doctest/doctest.h>

#include <cstring>

#include "fake_hf.h"
#include "kernels/half.h"
#include "runtime/convert/safetensors.h"
#include "runtime/model_file.h"

using namespace ember;
using namespace ember::test;

namespace {

// The message of the ModelFileError `f` throws ("" if it throws nothing).
template <typename F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const ModelFileError& e) {
        return e.what();
    }
    return "";
}

bool contains(const std::string& haystack, const std::string& needle) { return haystack.find(needle) != std::string::npos; }

// A file with a hand-written header and `data_bytes` zero bytes of data.
void write_raw(const std::filesystem::path& path, const std::string& header, size_t data_bytes) {
    std::string blob(8, '\0');
    const uint64_t len = header.size();
    std::memcpy(blob.data(), &len, 8);
    blob += header;
    blob.append(data_bytes, '\0');
    write_text(path, blob);
}

}  // namespace

TEST_CASE("safetensors: tensors, shapes and values of a valid file") {
    TempDir dir;
    const auto a = random_tensor("a", "F32", {3, 5}, 1);
    const auto b = random_tensor("b", "F16", {4, 2}, 2);
    const auto c = random_tensor("c", "BF16", {7}, 3);
    write_safetensors(dir / "x.safetensors", {a, b, c});
    auto f = SafetensorsFile::open(dir / "x.safetensors");
    REQUIRE(f->tensors().size() == 3);
    const SafetensorsTensor* tb = f->find("b");
    REQUIRE(tb);
    CHECK(tb->dtype_name == "F16");
    CHECK(tb->shape == std::vector<int64_t>{4, 2});
    CHECK(tb->rows() == 4);
    CHECK(tb->cols() == 2);
    CHECK(f->find("missing") == nullptr);

    for (const StTensor* src : {&a, &b, &c}) {
        const SafetensorsTensor* t = f->find(src->name);
        REQUIRE(t);
        std::vector<float> got(size_t(t->rows() * t->cols()));
        read_rows_f32(*t, 0, t->rows(), got.data());
        CHECK(got == src->values());  // F16 / BF16 widen exactly
    }
    // A row block from the middle.
    std::vector<float> row(5);
    read_rows_f32(*f->find("a"), 2, 1, row.data());
    CHECK(std::equal(row.begin(), row.end(), a.values().begin() + 10));
}

TEST_CASE("safetensors: non-float dtypes parse but are refused for conversion, naming tensor and dtype") {
    TempDir dir;
    StTensor ids{"position_ids", "I64", {4}, std::vector<uint8_t>(32, 0)};
    write_safetensors(dir / "x.safetensors", {ids});
    auto f = SafetensorsFile::open(dir / "x.safetensors");
    const std::string msg = error_of([&] { require_float_dtype(*f->find("position_ids")); });
    CHECK(contains(msg, "x.safetensors"));
    CHECK(contains(msg, "position_ids"));
    CHECK(contains(msg, "I64"));
}

TEST_CASE("safetensors: corrupt files are rejected with the file, tensor and offset named") {
    TempDir dir;
    const auto path = dir / "bad.safetensors";

    SUBCASE("too short for the length prefix") {
        write_text(path, "abc");
        CHECK(contains(error_of([&] { SafetensorsFile::open(path); }), "too short"));
    }
    SUBCASE("header length beyond the file") {
        write_raw(path, "{}", 0);
        auto bytes = read_bytes(path);
        const uint64_t huge = 1000;
        std::memcpy(bytes.data(), &huge, 8);
        write_text(path, std::string(bytes.begin(), bytes.end()));
        const std::string msg = error_of([&] { SafetensorsFile::open(path); });
        CHECK(contains(msg, "bad.safetensors"));
        CHECK(contains(msg, "header length 1000"));
    }
    SUBCASE("corrupt header JSON") {
        write_raw(path, "{\"w\": {\"dtype\": \"F32\", ", 16);
        const std::string msg = error_of([&] { SafetensorsFile::open(path); });
        CHECK(contains(msg, "bad.safetensors"));
        CHECK(contains(msg, "header JSON"));
    }
    SUBCASE("data_offsets past the end (truncated file)") {
        write_raw(path, R"({"w": {"dtype": "F32", "shape": [4, 4], "data_offsets": [0, 64]}})", 40);
        const std::string msg = error_of([&] { SafetensorsFile::open(path); });
        CHECK(contains(msg, "'w'"));
        CHECK(contains(msg, "past the data section"));
        CHECK(contains(msg, "offset"));
    }
    SUBCASE("begin after end") {
        write_raw(path, R"({"w": {"dtype": "F32", "shape": [0], "data_offsets": [8, 4]}})", 16);
        CHECK(contains(error_of([&] { SafetensorsFile::open(path); }), "begin after end"));
    }
    SUBCASE("size inconsistent with dtype and shape") {
        write_raw(path, R"({"w": {"dtype": "BF16", "shape": [3, 3], "data_offsets": [0, 16]}})", 16);
        const std::string msg = error_of([&] { SafetensorsFile::open(path); });
        CHECK(contains(msg, "'w'"));
        CHECK(contains(msg, "BF16 [3, 3]"));
        CHECK(contains(msg, "offset"));
    }
    SUBCASE("unknown dtype") {
        write_raw(path, R"({"w": {"dtype": "F4", "shape": [2], "data_offsets": [0, 1]}})", 1);
        const std::string msg = error_of([&] { SafetensorsFile::open(path); });
        CHECK(contains(msg, "'w'"));
        CHECK(contains(msg, "F4"));
    }
    SUBCASE("malformed entry") {
        write_raw(path, R"({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 0]}})", 0);
        CHECK(contains(error_of([&] { SafetensorsFile::open(path); }), "non-negative"));
    }
}

TEST_CASE("safetensors checkpoint: single file, shards, and what can go wrong with an index") {
    TempDir dir;
    const FakeModel m = tiny_llama();

    SUBCASE("neither file") {
        const std::string msg = error_of([&] { SafetensorsCheckpoint::open_dir(dir.path()); });
        CHECK(contains(msg, "no model.safetensors or model.safetensors.index.json in " + dir.path().string()));
    }
    SUBCASE("sharded: every tensor found in its shard") {
        write_hf_dir_sharded(dir.path(), m, 3);
        const auto ck = SafetensorsCheckpoint::open_dir(dir.path());
        CHECK(ck.file_count() == 3);
        CHECK(ck.names().size() == m.tensors.size());
        for (const auto& t : m.tensors) {
            const SafetensorsTensor* st = ck.find(t.name);
            REQUIRE(st);
            CHECK(st->shape == t.shape);
        }
    }
    SUBCASE("missing shard") {
        write_hf_dir_sharded(dir.path(), m, 2);
        std::filesystem::remove(dir / "model-00002-of-00002.safetensors");
        const std::string msg = error_of([&] { SafetensorsCheckpoint::open_dir(dir.path()); });
        CHECK(contains(msg, "model-00002-of-00002.safetensors"));
        CHECK(contains(msg, "missing"));
    }
    SUBCASE("index lists a tensor its shard lacks") {
        write_hf_dir_sharded(dir.path(), m, 2);
        auto index = nlohmann::json::parse(read_bytes(dir / "model.safetensors.index.json"));
        index["weight_map"]["model.extra.weight"] = "model-00001-of-00002.safetensors";
        write_text(dir / "model.safetensors.index.json", index.dump());
        const std::string msg = error_of([&] { SafetensorsCheckpoint::open_dir(dir.path()); });
        CHECK(contains(msg, "model.extra.weight"));
        CHECK(contains(msg, "model-00001-of-00002.safetensors"));
    }
    SUBCASE("index without weight_map") {
        write_text(dir / "model.safetensors.index.json", "{\"metadata\": {}}");
        CHECK(contains(error_of([&] { SafetensorsCheckpoint::open_dir(dir.path()); }), "weight_map"));
    }
}
