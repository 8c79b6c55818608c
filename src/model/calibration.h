// int8's calibration. Before a model's int8 weights are made, its towers run at fp32 on
// synthetic inputs while their layer norms are recorded (core/activation_samples.h); the
// samples set how much each layer is smoothed (GemmWeights::reduce). The inputs are made here
// from fixed seeds, so a checkpoint always gives the same int8 weights, and nothing is read or
// downloaded. A pack file keeps the result: `clipclap pack --precision int8` pays it once.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "audio/decode_audio.h"
#include "core/result.h"
#include "core/safetensors.h"
#include "vision/image.h"

namespace cc {

// When `weights` are about to be made in int8 (not mapped from a pack file): runs `fp32_pass`,
// which loads its towers from `weights` (they read the checkpoint as it is, at fp32) and embeds
// the inputs below one at a time, recording what they produce; then gives the samples to the
// int8 weights. Otherwise does nothing.
Status calibrate_int8(SafeTensors& weights, const std::function<Status()>& fp32_pass);

// 256 token sequences: the empty text's tokens (`ends`: <s> </s>, or however the tokenizer
// frames a text) around 1 to 18 ids drawn from [0, vocab) less `ends` and `specials` (fewer where
// `max_tokens` leaves less room, none where no id is left), in batches of one length (the rows
// of padding would be recorded too).
constexpr int kCalibrationSequences = 256, kCalibrationLengths = 18;
std::vector<std::vector<std::vector<int32_t>>> calibration_token_ids(int vocab, const std::vector<int32_t>& ends,
                                                                     const std::vector<int32_t>& specials, int max_tokens);
// 64 images of 96x96: smooth colour fields, some with hard-edged boxes, some with noise.
std::vector<Image> calibration_images();
// 4 clips of 10 s at `rate`: noise under an envelope, a chord, clicks, a chirp broken by silence.
std::vector<Audio> calibration_clips(int rate);

}  // namespace cc
