// SPDX-License-Identifier: Apache-2.0
// What lives here: checkpoint round trips (whole training state, modules, rotation) and every bad input
// with its exact message: missing file, not HDF5, HDF5 without the unroll header, empty, truncated,
// corrupted, wrong format name, newer version, payload checksum, missing/unexpected/mis-shaped/wrong-dtype
// parameters, config mismatch, NaN/Inf. Process-level tests (kill, file-size limit, concurrent reader,
// h5py, PyTorch) live in test_checkpoint_process.cpp.
#include <fmt/format.h>

#include <cmath>
#include <limits>

#include "io/checkpoint.h"
#include "test_checkpoint_helpers.h"

using namespace unroll;
using namespace unroll::testing;
namespace cd = unroll::checkpoint_detail;

namespace {

void check_same_params(const Checkpoint& a, const Checkpoint& b) {
  REQUIRE(a.params.size() == b.params.size());
  for (size_t i = 0; i < a.params.size(); ++i) {
    CAPTURE(a.params[i].first);
    CHECK(a.params[i].first == b.params[i].first);
    CHECK(a.params[i].second.bit_equal(b.params[i].second));
  }
}

}  // namespace

TEST_CASE("checkpoint: the whole training state round-trips bit-exactly, parameters in module order") {
  ScratchDir dir;
  for (DType dtype : {DType::f32, DType::f64}) {
    CAPTURE(dtype_name(dtype));
    TinyNet net(3, 2, 2, dtype, 7);
    const Checkpoint saved = full_checkpoint(net, 11);
    const std::string path = dir.file("state.h5");
    save_checkpoint(path, saved);
    const Checkpoint loaded = load_checkpoint(path);

    check_same_params(saved, loaded);
    std::vector<std::string> order;
    for (const auto& [p, t] : loaded.params) order.push_back(p);
    CHECK(order == std::vector<std::string>{"scale", "l0/w_ih", "l0/w_hh", "l0/b_ih", "l1/w_ih", "l1/w_hh", "l1/b_ih"});
    CHECK(loaded.model_config == saved.model_config);
    REQUIRE(loaded.has_optimizer);
    CHECK(loaded.optimizer.kind == "adam");
    CHECK(loaded.optimizer.hyper == saved.optimizer.hyper);
    CHECK(loaded.optimizer.step == 17);
    REQUIRE(loaded.optimizer.slots.size() == saved.optimizer.slots.size());
    for (const auto& [param, slots] : saved.optimizer.slots)
      for (const auto& [slot, t] : slots) {
        CAPTURE(param + "/" + slot);
        CHECK(loaded.optimizer.slots.at(param).at(slot).bit_equal(t));
      }
    CHECK(loaded.has_rng);
    CHECK(loaded.rng == saved.rng);
    CHECK(loaded.progress.epoch == 3);
    CHECK(loaded.progress.step == 17);
    CHECK(loaded.progress.data_cursor == 40);
    CHECK(loaded.progress.shuffle_seed == 0xfeedfacecafebeefULL);
    CHECK(loaded.progress.schedule == saved.progress.schedule);
    CHECK(loaded.progress.history == saved.progress.history);
    CHECK(loaded.scaler == saved.scaler);
    CHECK(loaded.extra == saved.extra);
    CHECK(loaded.library_version == UNROLL_VERSION);
    CHECK(loaded.created.size() == 20);  // 2026-01-02T03:04:05Z
    CHECK(loaded.source == path);

    // A resumed Rng continues the same stream.
    Rng a(0), b(0);
    a.set_state(saved.rng);
    b.set_state(loaded.rng);
    CHECK(a.next_u64() == b.next_u64());
  }
}

TEST_CASE("checkpoint: a module alone round-trips into a freshly built module, and a minimal file has no optimizer or rng") {
  ScratchDir dir;
  TinyNet source(3, 2, 2, DType::f32, 1);
  const auto config = TinyNet::config(3, 2, 2);
  save_module(dir.file("m.h5"), source, config);
  TinyNet target(3, 2, 2, DType::f32, 2);  // different initial values
  CHECK_FALSE(target.find_parameter("l1/w_hh")->value.bit_equal(source.find_parameter("l1/w_hh")->value));
  const Checkpoint c = load_module(dir.file("m.h5"), target, &config);
  CHECK_FALSE(c.has_optimizer);
  CHECK_FALSE(c.has_rng);
  CHECK(c.scaler.is_null());
  for (auto& [path, p] : source.named_parameters()) {
    CAPTURE(path);
    CHECK(target.find_parameter(path)->value.bit_equal(p->value));
  }
}

TEST_CASE("checkpoint: keep_last rotates path -> path.1 -> path.2 and the newest is always at path") {
  ScratchDir dir;
  TinyNet net(3, 2, 1, DType::f32, 1);
  const std::string path = dir.file("rot.h5");
  for (int step = 1; step <= 4; ++step) {
    Checkpoint c = module_checkpoint(net, TinyNet::config(3, 2, 1));
    c.progress.step = step;
    save_checkpoint(path, c, SaveOptions{.keep_last = 2});
  }
  CHECK(load_checkpoint(path).progress.step == 4);
  CHECK(load_checkpoint(path + ".1").progress.step == 3);
  CHECK(load_checkpoint(path + ".2").progress.step == 2);
  CHECK_FALSE(std::filesystem::exists(path + ".3"));
  // No temporary files are left behind.
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    CAPTURE(e.path().string());
    CHECK(e.path().string().find(".tmp-") == std::string::npos);
    ++files;
  }
  CHECK(files == 3);
}

TEST_CASE("checkpoint: files that are not checkpoints are refused before HDF5 reads them") {
  ScratchDir dir;
  const std::string missing = dir.file("nope.h5");
  CHECK_THROWS_WITH_AS(load_checkpoint(missing),
                       fmt::format("checkpoint '{}': cannot open for reading: No such file or directory (hint: check "
                                   "the path and the working directory)", missing).c_str(),
                       IoError);
  CHECK_THROWS_WITH_AS(load_checkpoint(dir.path()),
                       fmt::format("checkpoint '{}': not a regular file (a folder, FIFO or device) (hint: pass the checkpoint file)",
                                   dir.path()).c_str(),
                       IoError);

  const std::string text = dir.file("text.h5");
  write_bytes(text, {'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd', '\n'});
  CHECK_THROWS_WITH_AS(load_checkpoint(text),
                       fmt::format("checkpoint '{}': not an unroll checkpoint and not an HDF5 file (it starts with "
                                   "\"hello wo\") (hint: pass a file written by save_checkpoint)", text).c_str(),
                       IoError);

  const std::string empty = dir.file("empty.h5");
  write_bytes(empty, {});
  CHECK_THROWS_WITH_AS(load_checkpoint(empty),
                       fmt::format("checkpoint '{}': the file is empty (hint: the save was interrupted; a previous "
                                   "checkpoint may exist as '{}.1')", empty, empty).c_str(),
                       IoError);

  // A valid HDF5 file (written without the unroll header block), e.g. by plain h5py.
  const std::string plain = dir.file("plain.h5");
  TinyNet net(3, 2, 1, DType::f32, 1);
  h5::write_items(plain, cd::to_items(module_checkpoint(net, TinyNet::config(3, 2, 1))), 0);
  CHECK_THROWS_WITH_AS(load_checkpoint(plain),
                       fmt::format("checkpoint '{}': an HDF5 file but not an unroll checkpoint (no unroll header block) "
                                   "(hint: write it with save_checkpoint or tools/torch_to_unroll.py)", plain).c_str(),
                       IoError);
}

TEST_CASE("checkpoint: truncated and corrupted files are detected by the header's size and CRC-32") {
  ScratchDir dir;
  TinyNet net(3, 2, 2, DType::f32, 1);
  const std::string good = dir.file("good.h5");
  save_checkpoint(good, full_checkpoint(net, 3));
  const auto bytes = read_bytes(good);
  REQUIRE(bytes.size() > 2048);

  const std::string cut = dir.file("cut.h5");
  write_bytes(cut, std::vector<unsigned char>(bytes.begin(), bytes.begin() + static_cast<long>(bytes.size() / 2)));
  CHECK_THROWS_WITH_AS(load_checkpoint(cut),
                       fmt::format("checkpoint '{}': the file is truncated: the header records {} bytes but the file "
                                   "has {} (hint: the copy or save was interrupted; a previous checkpoint may exist as "
                                   "'{}.1')", cut, bytes.size(), bytes.size() / 2, cut).c_str(),
                       IoError);

  write_bytes(cut, std::vector<unsigned char>(bytes.begin(), bytes.begin() + 100));
  CHECK_THROWS_WITH_AS(load_checkpoint(cut),
                       fmt::format("checkpoint '{}': the file is truncated: 100 bytes is shorter than the 512-byte "
                                   "header (hint: a previous checkpoint may exist as '{}.1')", cut, cut).c_str(),
                       IoError);

  // One flipped bit anywhere in the HDF5 part.
  for (size_t at : {size_t{600}, bytes.size() / 2, bytes.size() - 1}) {
    CAPTURE(at);
    auto bad = bytes;
    bad[at] ^= 0x10;
    const std::string corrupt = dir.file("corrupt.h5");
    write_bytes(corrupt, bad);
    const uint32_t got = h5::crc32(bad.data() + 512, bad.size() - 512);
    const uint32_t want = h5::crc32(bytes.data() + 512, bytes.size() - 512);
    CHECK_THROWS_WITH_AS(load_checkpoint(corrupt),
                         fmt::format("checkpoint '{}': the file is corrupted: CRC-32 of bytes 512..{} is {:08x} but the "
                                     "header records {:08x} (hint: the file was modified or damaged after saving)",
                                     corrupt, bytes.size(), got, want).c_str(),
                         IoError);
  }
  auto bad_header = bytes;
  bad_header[17] ^= 1;
  const std::string corrupt = dir.file("corrupt-header.h5");
  write_bytes(corrupt, bad_header);
  CHECK_THROWS_WITH_AS(load_checkpoint(corrupt),
                       fmt::format("checkpoint '{}': the header block is corrupted (its CRC-32 does not match) (hint: the "
                                   "file was damaged after saving)", corrupt).c_str(),
                       IoError);
}

TEST_CASE("checkpoint: wrong format name, newer format version, payload checksum, unexpected objects") {
  ScratchDir dir;
  TinyNet net(3, 2, 1, DType::f32, 1);
  const auto items = cd::to_items(module_checkpoint(net, TinyNet::config(3, 2, 1)));
  const std::string path = dir.file("bad.h5");

  auto with = [&](h5::Item extra) {
    auto v = items;
    v.push_back(std::move(extra));
    return v;
  };
  cd::save_items(path, with(h5::Item::of_string("/", "format", "keras-weights")));
  CHECK_THROWS_WITH_AS(load_checkpoint(path),
                       fmt::format("checkpoint '{}': root attribute 'format' is \"keras-weights\" but expected "
                                   "\"unroll-checkpoint\" (hint: not an unroll checkpoint)", path).c_str(),
                       IoError);

  cd::save_items(path, with(h5::Item::of_i64("/", "format_version", {2})));
  CHECK_THROWS_WITH_AS(load_checkpoint(path),
                       fmt::format("checkpoint '{}': format_version 2 is newer than this unroll ({}) reads (1) (hint: "
                                   "upgrade unroll to read it)", path, UNROLL_VERSION).c_str(),
                       IoError);

  cd::save_items(path, with(h5::Item::of_string("/", "checksum", "crc32:00000000")));
  CHECK_THROWS_WITH_AS(load_checkpoint(path),
                       fmt::format("checkpoint '{}': payload checksum mismatch: the contents give {} but the file "
                                   "records crc32:00000000 (hint: the file was edited without updating its checksum)",
                                   path, cd::payload_checksum(items)).c_str(),
                       IoError);

  cd::save_items(path, with(h5::Item::of_string("/notes", "", "hello")));
  CHECK_THROWS_WITH_AS(load_checkpoint(path),
                       fmt::format("checkpoint '{}': unexpected dataset /notes (hint: written by a different tool or a "
                                   "newer unroll?)", path).c_str(),
                       IoError);

  cd::save_items(path, with(h5::Item::of_i64("/params/l0/steps", "", {1, 2})));
  CHECK_THROWS_WITH_AS(load_checkpoint(path),
                       fmt::format("checkpoint '{}': /params/l0/steps has dtype int64; parameters are float32 or "
                                   "float64", path).c_str(),
                       IoError);

  cd::save_items(path, with(h5::Item::of_u64("/rng/state", "", {1, 2, 3})));
  CHECK_THROWS_WITH_AS(load_checkpoint(path),
                       fmt::format("checkpoint '{}': /rng/state is uint64 [3] but expected uint64 [4]", path).c_str(),
                       IoError);

  auto no_config = items;
  no_config.erase(no_config.begin());  // /model/config is the first item
  cd::save_items(path, no_config);
  CHECK_THROWS_WITH_AS(load_checkpoint(path), fmt::format("checkpoint '{}': /model/config is missing", path).c_str(),
                       IoError);

  auto bad_json = items;
  bad_json[0].str = "{\"kind\": ";
  cd::save_items(path, bad_json);
  CHECK_THROWS_WITH_AS(load_checkpoint(path),
                       doctest::Contains(fmt::format("checkpoint '{}': /model/config is not valid JSON: ", path).c_str()),
                       IoError);
}

TEST_CASE("checkpoint: parameters that do not fit the model name their path and both shapes/dtypes") {
  ScratchDir dir;
  const auto config = TinyNet::config(3, 2, 2);
  TinyNet model(3, 2, 2, DType::f32, 5);
  const Tensor before = model.find_parameter("l0/w_ih")->value.clone();
  const char* hint = "(hint: the checkpoint was saved from a different model or config; build the model from the "
                     "checkpoint's /model/config)";
  const std::string path = dir.file("p.h5");

  SUBCASE("missing") {
    TinyNet one_layer(3, 2, 1, DType::f32, 1);
    save_module(path, one_layer, config);
    CHECK_THROWS_WITH_AS(load_module(path, model),
                         fmt::format("checkpoint '{}': /params/l1/w_ih is missing; the model expects a float32 parameter "
                                     "of shape [8, 2] {}", path, hint).c_str(),
                         IoError);
  }
  SUBCASE("unexpected") {
    TinyNet three_layers(3, 2, 3, DType::f32, 1);
    save_module(path, three_layers, config);
    CHECK_THROWS_WITH_AS(load_module(path, model),
                         fmt::format("checkpoint '{}': /params/l2/w_ih (float32 [8, 2]) is not a parameter of the model "
                                     "{}", path, hint).c_str(),
                         IoError);
  }
  SUBCASE("wrong shape") {
    TinyNet wider_input(4, 2, 2, DType::f32, 1);
    save_module(path, wider_input, config);
    CHECK_THROWS_WITH_AS(load_module(path, model),
                         fmt::format("checkpoint '{}': /params/l0/w_ih has shape [8, 4] but the model expects [8, 3] {}",
                                     path, hint).c_str(),
                         IoError);
  }
  SUBCASE("wrong dtype") {
    TinyNet doubles(3, 2, 2, DType::f64, 1);
    save_module(path, doubles, config);
    CHECK_THROWS_WITH_AS(load_module(path, model),
                         fmt::format("checkpoint '{}': /params/scale has dtype float64 but the model expects float32 "
                                     "(hint: build the model with dtype float64 or convert the checkpoint)", path).c_str(),
                         IoError);
  }
  SUBCASE("config disagrees") {
    TinyNet same(3, 2, 2, DType::f32, 1);
    save_module(path, same, config);
    auto expected = config;
    expected["hidden_size"] = 3;
    CHECK_THROWS_WITH_AS(load_module(path, model, &expected),
                         fmt::format("checkpoint '{}': /model/config disagrees with the model's config at /hidden_size: "
                                     "the file has 2, the model has 3 {}", path, hint).c_str(),
                         IoError);
    expected = config;
    expected["bidirectional"] = true;
    CHECK_THROWS_WITH_AS(load_module(path, model, &expected),
                         fmt::format("checkpoint '{}': /model/config disagrees with the model's config at /bidirectional: "
                                     "the file has no such entry, the model has true {}", path, hint).c_str(),
                         IoError);
  }
  // Whatever failed, the model was left as it was.
  CHECK(model.find_parameter("l0/w_ih")->value.bit_equal(before));
}

TEST_CASE("checkpoint: NaN or Inf in a parameter or optimizer slot is an error unless allowed") {
  ScratchDir dir;
  TinyNet net(3, 2, 1, DType::f32, 1);
  const std::string path = dir.file("nan.h5");
  for (double bad : {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
                     -std::numeric_limits<double>::infinity()}) {
    CAPTURE(bad);
    Checkpoint c = module_checkpoint(net, TinyNet::config(3, 2, 1));
    c.params[2].second.set(5, bad);  // l0/w_hh
    save_checkpoint(path, c);
    CHECK_THROWS_WITH_AS(load_checkpoint(path),
                         fmt::format("checkpoint '{}': /params/l0/w_hh holds a non-finite value ({}) at flat index 5 "
                                     "(hint: the saved model had diverged; pass LoadOptions{{.allow_nonfinite = true}} "
                                     "to load it anyway)", path, bad).c_str(),
                         IoError);
    const Checkpoint allowed = load_checkpoint(path, LoadOptions{.allow_nonfinite = true});
    CHECK(allowed.params[2].second.bit_equal(c.params[2].second));
  }
  Checkpoint c = full_checkpoint(net, 2);
  c.optimizer.slots["l0/b_ih"]["v"].set(0, std::numeric_limits<double>::infinity());
  save_checkpoint(path, c);
  CHECK_THROWS_WITH_AS(load_checkpoint(path), doctest::Contains("/optimizer/slots/l0/b_ih/v holds a non-finite value (inf)"),
                       IoError);
}

TEST_CASE("checkpoint: invalid names are refused when saving") {
  ScratchDir dir;
  Checkpoint c;
  c.params.emplace_back("l0/../w", Tensor::zeros({2}, DType::f32));
  CHECK_THROWS_WITH_AS(save_checkpoint(dir.file("x.h5"), c),
                       "save_checkpoint: parameter path 'l0/../w' is not a valid path (hint: non-empty names joined by "
                       "single '/', no '.' or '..' components)",
                       UsageError);
  c.params = {{"w", Tensor::zeros({2}, DType::f32)}, {"w", Tensor::zeros({2}, DType::f32)}};
  CHECK_THROWS_WITH_AS(save_checkpoint(dir.file("x.h5"), c), "save_checkpoint: parameter path 'w' appears twice",
                       UsageError);
  CHECK_FALSE(std::filesystem::exists(dir.file("x.h5")));
}

TEST_CASE("checkpoint: a save that cannot create its file fails naming it and leaves nothing behind") {
  ScratchDir dir;
  TinyNet net(3, 2, 1, DType::f32, 1);
  const std::string path = dir.file("no-such-folder/x.h5");
  CHECK_THROWS_WITH_AS(save_module(path, net, nullptr),
                       doctest::Contains(fmt::format("checkpoint '{}': saving failed, the previous checkpoint is "
                                                     "untouched: creating '{}.tmp-",
                                                     path, path).c_str()),
                       IoError);
}
