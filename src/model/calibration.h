// Calibration of the reduced precisions. Before a model's bf16 or int8 weights are made (not
// mapped from a pack file), its towers embed synthetic inputs made here from fixed seeds:
//  1. at fp32, while their layer norms are recorded (core/activation_samples.h): for int8 the
//     samples set how much each layer is smoothed (GemmWeights::reduce);
//  2. at the reduced precision, and each vector is compared with its fp32 one. When the worst
//     cosine is below the precision's guard (kBf16Guard, kInt8Guard), the accuracy guard keeps
//     layers in fp32 until it is not: those whose rounding alone costs the worst inputs most,
//     one at a time (GemmWeights::keep_fp32), as Intel Neural Compressor's accuracy-driven
//     tuning falls back op by op.
// A checkpoint always gives the same weights, and nothing is read or downloaded. A pack file
// keeps the result, and names the layers kept: `clipclap pack --precision` pays it once.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "audio/decode_audio.h"
#include "core/embeddings.h"
#include "core/result.h"
#include "core/safetensors.h"
#include "vision/image.h"

namespace cc {

// The accuracy guard. A tower passes as it is when its worst calibration input is within half
// of what the precision's bar allows any input (bf16 0.9995, int8 0.995; README "Precision"):
// the full-size towers do, with every layer reduced. A tower that does not has errors with a
// heavy tail: on the tiny fixtures, inputs it had not seen came out up to 8x further from fp32
// than its worst calibration input. So the guard then keeps layers in fp32 until its worst is
// within kGuardAim times less (an eighth of the bar).
constexpr double kBf16Guard = 0.99975, kInt8Guard = 0.9975, kGuardAim = 4;

// How many times the 256 base calibration texts a text tower gets: as many as cost about what
// 256 cost a tower of kCalibrationParams weights, from 1 (the full-size towers, 38-85 M) to 8
// (narrow ones, whose heavy tails 256 texts did not show: clip-tiny-b's worst int8 text was
// 0.9975 over 256, 0.82 over 2,048). Images stay at 64: one costs ~20 texts on the fixtures
// (197 patches), and with 64 every fixture's image rows met their bars on four input draws.
// `prefix`: the tower's encoder tensors in the checkpoint.
constexpr int64_t kCalibrationParams = int64_t{16} << 20;
constexpr int kMaxCalibrationMultiple = 8;
int calibration_multiple(const SafeTensors& weights, const std::string& prefix);

// A model's calibration inputs, `count` of them in a fixed order, and how its towers embed
// them: `embed` loads the towers from the weights as they are at the call (fp32 when the
// GEMM's weights are taken away, else the reduced ones) and gives one vector per index of
// `items` (ascending), in that order.
struct CalibrationInputs {
  int64_t count = 0;
  std::function<Result<Embeddings>(const std::vector<int64_t>& items)> embed;
};

// When `weights`' GEMM weights are about to be made in bf16 or int8 (not mapped from a pack
// file): the two passes above, and the guard's choice given to the weights. Otherwise nothing.
Status calibrate(SafeTensors& weights, const CalibrationInputs& inputs);
// Whether calibrate would do anything: the inputs need not be made otherwise.
bool needs_calibration(const SafeTensors& weights);

// For CalibrationInputs::embed: the vectors of `items`, in their order, embedded a run at a
// time: consecutive items of one group (`group_of`, e.g. a batch of one length) go to
// `embed_run` together.
Result<Embeddings> embed_runs(const std::vector<int64_t>& items, const std::function<int64_t(int64_t)>& group_of,
                              const std::function<Result<Embeddings>(const std::vector<int64_t>& run)>& embed_run);

// 256 · `multiple` token sequences: the empty text's tokens (`ends`: <s> </s>, or however the tokenizer
// frames a text) around 1 to 18 ids drawn from [0, vocab) less `ends` and `specials` (fewer where
// `max_tokens` leaves less room, none where no id is left), in batches of one length (the rows
// of padding would be recorded too).
constexpr int kCalibrationSequences = 256, kCalibrationLengths = 18;
std::vector<std::vector<std::vector<int32_t>>> calibration_token_ids(int vocab, const std::vector<int32_t>& ends,
                                                                     const std::vector<int32_t>& specials, int max_tokens,
                                                                     int multiple = 1);
// The same sequences in one list, each with the index of its batch (for embed_runs: a group
// of one length).
struct CalibrationTexts {
  std::vector<std::vector<int32_t>> ids;
  std::vector<int64_t> batch;
  int64_t batches = 0;
};
CalibrationTexts calibration_texts(int vocab, const std::vector<int32_t>& ends, const std::vector<int32_t>& specials,
                                   int max_tokens, int multiple);
// 64 images of 96x96: smooth colour fields, some with hard-edged boxes, some with noise.
std::vector<Image> calibration_images();
// 4 clips of 10 s at `rate`: noise under an envelope, a chord, clicks, a chirp broken by silence.
std::vector<Audio> calibration_clips(int rate);

}  // namespace cc
