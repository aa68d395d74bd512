// Fused recurrent-cell kernels (one time step of an RNN, LSTM or GRU cell, forward and backward)
// exposed as rnnCellForward / rnnCellBackward. The bindings are plain functions registered by
// the addon with, as data, the address of its ConvContext: through it they use the same
// sigmoid/tanh kernels as the rest of the addon (and follow _setSimd), and the backward keeps
// its row buffer in the context's workspace between steps.
#pragma once

#include <napi.h>

#include "kernels.h"

namespace bp {

// info.Data() must be a ConvContext* owned by the addon instance.
Napi::Value RnnCellForward(const Napi::CallbackInfo& info);
Napi::Value RnnCellBackward(const Napi::CallbackInfo& info);

}  // namespace bp
