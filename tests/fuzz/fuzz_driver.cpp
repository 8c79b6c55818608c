// Runs LLVMFuzzerTestOneInput over seed files and seeded mutations of them (bit flips,
// truncations, insertions, deletions, splices), for a number of seconds: the fuzz targets'
// smoke run where libFuzzer is not available (gcc builds). Deterministic for a given seed; a
// crash or sanitizer report fails the run.
//   fuzz_<target> SECONDS SEED_FILE_OR_DIRECTORY...
#include <chrono>
#include <filesystem>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s SECONDS SEED_FILE_OR_DIRECTORY...\n", argv[0]);
    return 2;
  }
  const double seconds = std::atof(argv[1]);
  std::vector<std::string> seeds;
  auto add = [&](const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    seeds.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  };
  for (int i = 2; i < argc; ++i) {
    if (std::filesystem::is_directory(argv[i])) {
      for (const auto& e : std::filesystem::directory_iterator(argv[i]))
        if (e.is_regular_file()) add(e.path());
    } else {
      add(argv[i]);
    }
  }
  if (seeds.empty()) seeds.emplace_back();
  std::mt19937_64 rng(12345);
  auto run = [](const std::string& s) { LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size()); };
  for (const auto& s : seeds) run(s);
  run("");
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  long runs = 0;
  while (std::chrono::steady_clock::now() < end) {
    std::string s = seeds[rng() % seeds.size()];
    const int edits = 1 + static_cast<int>(rng() % 8);
    for (int e = 0; e < edits && !s.empty(); ++e) {
      const size_t at = rng() % s.size();
      switch (rng() % 6) {
        case 0: s[at] = static_cast<char>(s[at] ^ (1 << (rng() % 8))); break;
        case 1: s.resize(at); break;
        case 2: s.insert(at, 1 + rng() % 16, static_cast<char>(rng())); break;
        case 3: s.erase(at, 1 + rng() % 64); break;
        case 4: {  // splice in a piece of another seed
          const std::string& o = seeds[rng() % seeds.size()];
          if (!o.empty()) {
            const size_t from = rng() % o.size();
            s.insert(at, o.substr(from, 1 + rng() % 256));
          }
          break;
        }
        default: s[at] = "{}[]\",:0\\"[rng() % 10]; break;
      }
    }
    run(s);
    ++runs;
  }
  std::printf("%s: %zu seeds, %ld mutated inputs in %.0f s, no crash\n", argv[0], seeds.size(), runs, seconds);
  return 0;
}
