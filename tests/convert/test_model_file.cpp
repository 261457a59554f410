// The .ember loader's validation: a valid file, then corrupt copies of it, each of which
// must give a ModelFileError naming the file (and the tensor and offset where there is one).
#include <doctest/doctest.h>

#include <cstring>

#include "fake_hf.h"
#include "kernels/quant.h"
#include "runtime/model_file.h"

using namespace ember;
using namespace ember::test;
using nlohmann::json;

namespace {

bool contains(const std::string& haystack, const std::string& needle) { return haystack.find(needle) != std::string::npos; }

constexpr uint64_t kPrefix = 24;  // magic, version, reserved, header length (docs/format.md)

uint64_t align64(uint64_t x) { return (x + 63) / 64 * 64; }

std::string open_error(const std::filesystem::path& path) {
    try {
        ModelFile::open(path);
    } catch (const ModelFileError& e) {
        return e.what();
    }
    return "";
}

// A valid file: f32 [2, 3], q4 [2, 40] (a padded row), u8 [5], with known contents.
struct ValidFile {
    std::filesystem::path path;
    std::vector<float> a = {1, 2, 3, 4, 5, 6};
    std::vector<uint8_t> b, c = {'h', 'e', 'l', 'l', 'o'};

    explicit ValidFile(const std::filesystem::path& p) : path(p) {
        b.resize(2 * 2 * sizeof(BlockQ4));
        for (size_t i = 0; i < b.size(); ++i) b[i] = uint8_t(i * 7);
        std::vector<TensorInfo> plan = {{"a", DType::F32, {2, 3}, 0, 0, nullptr},
                                        {"b", DType::Q4, {2, 40}, 0, 0, nullptr},
                                        {"c", DType::U8, {5}, 0, 0, nullptr}};
        ModelFileWriter w(path, json{{"format", "ember"}, {"note", "test"}}, plan);
        w.write_next("a", a.data(), a.size() * 4);
        w.write_next("b", b.data(), b.size());
        w.write_next("c", c.data(), c.size());
        w.finish();
    }
};

void write_bytes(const std::filesystem::path& path, const std::vector<uint8_t>& bytes) {
    write_text(path, std::string(bytes.begin(), bytes.end()));
}

// Copies `src` to `dst` with its header JSON edited by `edit`; tensor data (whose offsets
// are relative to the data start) is moved along, so only the edit differs.
template <typename Edit>
void rewrite_header(const std::filesystem::path& src, const std::filesystem::path& dst, Edit edit) {
    const std::vector<uint8_t> in = read_bytes(src);
    uint64_t len;
    std::memcpy(&len, in.data() + 16, 8);
    json header = json::parse(in.begin() + kPrefix, in.begin() + long(kPrefix + len));
    edit(header);
    const std::string text = header.dump();
    std::vector<uint8_t> out(in.begin(), in.begin() + kPrefix);
    const uint64_t new_len = text.size();
    std::memcpy(out.data() + 16, &new_len, 8);
    out.insert(out.end(), text.begin(), text.end());
    out.resize(align64(out.size()), 0);
    out.insert(out.end(), in.begin() + long(align64(kPrefix + len)), in.end());
    write_bytes(dst, out);
}

json& tensor_entry(json& header, const std::string& name) {
    for (auto& t : header["tensors"])
        if (t["name"] == name) return t;
    throw std::runtime_error("no entry " + name);
}

}  // namespace

TEST_CASE("model file: a written file reads back") {
    TempDir dir;
    ValidFile v(dir / "good.ember");
    CHECK(dir_entries(dir.path()) == std::vector<std::string>{"good.ember"});  // no temp left
    auto mf = ModelFile::open(v.path);
    CHECK(mf->header() == json{{"format", "ember"}, {"note", "test"}});  // directory removed
    REQUIRE(mf->tensors().size() == 3);
    const TensorInfo& a = mf->tensor("a");
    CHECK(a.dtype == DType::F32);
    CHECK(a.rows() == 2);
    CHECK(a.cols() == 3);
    CHECK(std::memcmp(a.data, v.a.data(), 24) == 0);
    const TensorInfo& b = mf->tensor("b");
    CHECK(b.size == v.b.size());
    CHECK(std::vector<uint8_t>(b.data, b.data + b.size) == v.b);
    CHECK(std::vector<uint8_t>(mf->tensor("c").data, mf->tensor("c").data + 5) == v.c);
    for (const auto& t : mf->tensors()) CHECK(t.offset % kEmberAlignment == 0);
    CHECK_FALSE(mf->has("d"));
    const std::string msg = [&] {
        try {
            mf->tensor("d");
        } catch (const ModelFileError& e) {
            return std::string(e.what());
        }
        return std::string();
    }();
    CHECK(contains(msg, "good.ember"));
    CHECK(contains(msg, "'d'"));
}

TEST_CASE("model file: corrupt copies are rejected with file, tensor and offset named") {
    TempDir dir;
    ValidFile v(dir / "good.ember");
    const std::vector<uint8_t> good = read_bytes(v.path);
    const auto bad = dir / "bad.ember";
    std::string msg;

    SUBCASE("wrong magic") {
        auto bytes = good;
        bytes[0] = 'X';
        write_bytes(bad, bytes);
        msg = open_error(bad);
        CHECK(contains(msg, "magic"));
        CHECK(contains(msg, "offset 0"));
    }
    SUBCASE("wrong version") {
        auto bytes = good;
        const uint32_t version = kEmberFormatVersion + 1;
        std::memcpy(bytes.data() + 8, &version, 4);
        write_bytes(bad, bytes);
        msg = open_error(bad);
        CHECK(contains(msg, "version " + std::to_string(version)));
        CHECK(contains(msg, "offset 8"));
    }
    SUBCASE("shorter than the fixed prefix") {
        write_bytes(bad, std::vector<uint8_t>(good.begin(), good.begin() + 10));
        msg = open_error(bad);
        CHECK(contains(msg, "truncated"));
    }
    SUBCASE("truncated in the middle of tensor data") {
        const uint64_t b_offset = ModelFile::open(v.path)->tensor("b").offset;
        write_bytes(bad, std::vector<uint8_t>(good.begin(), good.begin() + long(b_offset + 10)));
        msg = open_error(bad);
        CHECK(contains(msg, "'b'"));
        CHECK(contains(msg, "offset " + std::to_string(b_offset)));
        CHECK(contains(msg, "truncated"));
    }
    SUBCASE("header length beyond the file") {
        auto bytes = good;
        const uint64_t len = good.size();
        std::memcpy(bytes.data() + 16, &len, 8);
        write_bytes(bad, bytes);
        msg = open_error(bad);
        CHECK(contains(msg, "header length"));
        CHECK(contains(msg, "offset 16"));
    }
    SUBCASE("corrupt header JSON") {
        auto bytes = good;
        bytes[kPrefix] = '[';
        write_bytes(bad, bytes);
        msg = open_error(bad);
        CHECK(contains(msg, "header JSON"));
        CHECK(contains(msg, "offset 24"));
    }
    SUBCASE("no tensor directory") {
        rewrite_header(v.path, bad, [](json& h) { h.erase("tensors"); });
        msg = open_error(bad);
        CHECK(contains(msg, "tensors"));
    }
    SUBCASE("tensor out of bounds") {
        rewrite_header(v.path, bad, [](json& h) { tensor_entry(h, "c")["offset"] = 1 << 20; });
        msg = open_error(bad);
        CHECK(contains(msg, "'c'"));
        CHECK(contains(msg, "offset"));
        CHECK(contains(msg, "past the end"));
    }
    SUBCASE("misaligned offset") {
        rewrite_header(v.path, bad, [](json& h) { tensor_entry(h, "b")["offset"] = tensor_entry(h, "b")["offset"].get<uint64_t>() + 4; });
        msg = open_error(bad);
        CHECK(contains(msg, "'b'"));
        CHECK(contains(msg, "offset"));
        CHECK(contains(msg, "aligned"));
    }
    SUBCASE("size inconsistent with shape") {
        rewrite_header(v.path, bad, [](json& h) { tensor_entry(h, "a")["shape"] = {2, 4}; });
        msg = open_error(bad);
        CHECK(contains(msg, "'a'"));
        CHECK(contains(msg, "offset"));
        CHECK(contains(msg, "size 24"));
    }
    SUBCASE("unknown dtype") {
        rewrite_header(v.path, bad, [](json& h) { tensor_entry(h, "a")["dtype"] = "q3"; });
        msg = open_error(bad);
        CHECK(contains(msg, "'a'"));
        CHECK(contains(msg, "unknown dtype 'q3'"));
    }
    SUBCASE("malformed tensor entry") {
        rewrite_header(v.path, bad, [](json& h) { tensor_entry(h, "c").erase("size"); });
        msg = open_error(bad);
        CHECK(contains(msg, "'c'"));
    }
    SUBCASE("duplicate tensor") {
        rewrite_header(v.path, bad, [](json& h) { tensor_entry(h, "b")["name"] = "a"; });
        msg = open_error(bad);
        CHECK(contains(msg, "'a'"));
        CHECK(contains(msg, "twice"));
    }
    SUBCASE("missing file") {
        msg = open_error(dir / "absent.ember");
        CHECK(contains(msg, "absent.ember"));
    }
    if (!contains(msg, "absent.ember")) CHECK(contains(msg, "bad.ember"));
}

TEST_CASE("model file: an abandoned or misused writer leaves no output and no temp file") {
    TempDir dir;
    const auto path = dir / "w.ember";
    const std::vector<TensorInfo> plan = {{"x", DType::F32, {4}, 0, 0, nullptr}, {"y", DType::F16, {3}, 0, 0, nullptr}};
    const float x[4] = {1, 2, 3, 4};

    SUBCASE("exception halfway") {
        try {
            ModelFileWriter w(path, json::object(), plan);
            w.write_next("x", x, sizeof x);
            throw std::runtime_error("bad tensor");
        } catch (const std::runtime_error&) {
        }
    }
    SUBCASE("wrong tensor order") {
        ModelFileWriter w(path, json::object(), plan);
        CHECK_THROWS_AS(w.write_next("y", x, 6), ModelFileError);
    }
    SUBCASE("wrong size") {
        ModelFileWriter w(path, json::object(), plan);
        CHECK_THROWS_AS(w.write_next("x", x, 12), ModelFileError);
    }
    SUBCASE("finish before all tensors") {
        ModelFileWriter w(path, json::object(), plan);
        w.write_next("x", x, sizeof x);
        CHECK_THROWS_AS(w.finish(), ModelFileError);
    }
    CHECK(dir_entries(dir.path()).empty());
}
